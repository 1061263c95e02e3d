"""The next iteration of a batch may reuse the iteration function the last one loaded.

Each iteration shipped to a worker process loads its function from the kernel's
pickle afresh, so that nothing one iteration did to the notebook names it reaches
(a list it appended to, a global it rebound) leaks into the next: the plain loop
would have seen such a change, the copies here cannot share it, and the
kernel's checks decide. Loading costs about 25 µs an iteration, 1% of a 2 ms one.

When everything the function reaches is *inert*, a fresh load and the last one
cannot be told apart, and the last one is reused. Inert means:

- values that never change in place (numbers, strings, tuples of them) and
  modules, builtins and functions or classes sent by reference (a fresh load
  gives back the very same objects anyway);
- notebook functions (sent by value) whose own globals, defaults, closures and
  attributes are inert in turn.

Anything else, such as a list, a dict, a frame or a class of the notebook,
makes the function load afresh every time. An inert function can still be
changed by rebinding: a ``global`` assignment, new defaults, a new attribute.
So a snapshot of every binding it reaches is taken at load time and compared
before reuse (identities suffice: the values are inert, and the snapshot holds
them, so none can be freed and its identity taken); any difference loads it
afresh.
"""

from __future__ import annotations

import operator
import sys
import types
from typing import Any

from kernel_ext.cell import transport
from kernel_ext.cell.sharing import ATOMS

_DEPTH = 8  # nesting followed inside tuples and notebook functions before giving up
_BY_REFERENCE = (types.ModuleType, types.BuiltinFunctionType, types.BuiltinMethodType)

# The last function loaded here: (its pickle, the function, its snapshot).
_last: tuple[bytes, Any, _Bindings] | None = None


def load_iteration(blob: bytes) -> Any:
    """The iteration function pickled in ``blob``: the last one loaded from this very
    pickle if it is inert and unchanged (see the module docstring), else a fresh load."""
    global _last
    last = _last
    if last is not None and last[0] == blob and last[2].unchanged():  # (identity first)
        return last[1]
    _last = None
    function = transport.loads(blob)
    if _inert(function, set(), 0):
        _last = (blob, function, _Bindings(function))
    return function


def _inert(value: Any, seen: set[int], depth: int) -> bool:
    if type(value) in ATOMS:
        return True
    if depth > _DEPTH:
        return False
    if isinstance(value, tuple | frozenset):
        return all(_inert(item, seen, depth + 1) for item in value)
    if isinstance(value, _BY_REFERENCE):
        owner = getattr(value, "__self__", None)  # a bound builtin: its object counts
        return owner is None or isinstance(owner, types.ModuleType)
    if isinstance(value, type | types.FunctionType) and _sent_by_reference(value):
        return True
    if isinstance(value, types.FunctionType):
        if id(value) in seen:
            return True
        seen.add(id(value))
        return not vars(value) and all(
            _inert(part, seen, depth + 1) for part in _parts(value))
    return False


def _sent_by_reference(value: Any) -> bool:
    """Whether pickling sends ``value`` by name: a fresh load gives the same object."""
    module = sys.modules.get(getattr(value, "__module__", None) or "")
    if module is None or module.__name__ == "__main__":
        return False
    found: Any = module
    for part in getattr(value, "__qualname__", "").split("."):
        found = getattr(found, part, None)
    return found is value


def _parts(function: types.FunctionType) -> list[Any]:
    """What a notebook function reaches: its globals (but the builtins), its defaults and
    the contents of its closure cells."""
    parts = [v for k, v in function.__globals__.items() if k != "__builtins__"]
    parts.extend(function.__defaults__ or ())
    parts.extend((function.__kwdefaults__ or {}).values())
    for cell in function.__closure__ or ():
        try:
            parts.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return parts


class _Bindings:
    """What every notebook function an inert function reaches is bound to, at load time.
    The objects are held, so none can be freed and its identity taken by a new one."""

    def __init__(self, function: Any) -> None:
        self.functions: list[tuple[Any, ...]] = []
        self.globals: list[tuple[dict[str, Any], _Snapshot]] = []
        seen: set[int] = set()
        todo = [function]
        while todo:
            current = todo.pop()
            if isinstance(current, tuple | frozenset):
                todo.extend(current)
                continue
            if (not isinstance(current, types.FunctionType) or id(current) in seen
                    or _sent_by_reference(current)):
                continue
            seen.add(id(current))
            self.functions.append((
                current, current.__code__, current.__defaults__,
                _Snapshot(current.__kwdefaults__ or {}), tuple(_cells(current)),
                len(vars(current))))
            namespace = current.__globals__
            if id(namespace) not in seen:
                seen.add(id(namespace))
                self.globals.append((namespace, _Snapshot(namespace)))
            todo.extend(_parts(current))

    def unchanged(self) -> bool:
        for function, code, defaults, kwdefaults, cells, attributes in self.functions:
            if (function.__code__ is not code or function.__defaults__ is not defaults
                    or len(vars(function)) != attributes
                    or not kwdefaults.same(function.__kwdefaults__ or {})):
                return False
            now = _cells(function)
            if len(now) != len(cells) or not all(map(operator.is_, now, cells)):
                return False
        return all(then.same(namespace) for namespace, then in self.globals)


class _Snapshot:
    """A dict's names, in order, and the identities of their values (compared in C: this
    runs before every reuse, and a notebook function's globals may hold many names)."""

    __slots__ = ("names", "values")

    def __init__(self, mapping: dict[str, Any]) -> None:
        self.names = list(mapping)
        self.values = list(mapping.values())

    def same(self, mapping: dict[str, Any]) -> bool:
        return (len(mapping) == len(self.names) and list(mapping) == self.names
                and all(map(operator.is_, mapping.values(), self.values)))


def _cells(function: types.FunctionType) -> list[Any]:
    contents = []
    for cell in function.__closure__ or ():
        try:
            contents.append(cell.cell_contents)
        except ValueError:  # an empty cell
            contents.append(_EMPTY)
    return contents


_EMPTY = object()
