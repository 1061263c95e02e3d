"""Does a value computed in a worker share state with the inputs it was computed from?

In the plain cell, ``v = a[2:5]`` (a numpy view), ``y = np.asarray(x)`` (``x``
itself), ``row = pick(rows)`` (an element of ``rows``) or ``f = partial(g, d)``
leave two names reaching the same object: a later in-place change through one
is seen through the other. A worker sends back copies, which would break that
link. The worker therefore asks, after running a statement, whether any value
it bound reaches an object (or array memory) that an input also reaches; if
so, the statement runs in the kernel instead.

The walk follows what the garbage collector sees (:func:`gc.get_referents`),
skips immutable atoms, classes and modules, follows functions only into their
defaults and closures, and treats numpy arrays as leaves identified by the
memory they view. It is bounded: past :data:`BUDGET` objects on a side, the
answer is "may share" (and the statement runs in the kernel), unless the other
side holds nothing that can be shared (a large result computed from a file
name, a number or a string).
"""

from __future__ import annotations

import functools
import gc
import types
from collections.abc import Iterable
from typing import Any

from kernel_ext.cell.process_state import loaded_module

BUDGET = 100_000  # objects visited per side (about 0.25 s) before giving up: may share

ATOMS = _ATOMS = frozenset({  # values that never change in place
    int, float, complex, bool, str, bytes, type(None), type(Ellipsis), type(NotImplemented),
    range, slice,
})
_OPAQUE = (type, types.ModuleType, types.BuiltinFunctionType, types.MethodWrapperType,
           types.WrapperDescriptorType, types.MethodDescriptorType, types.CodeType)
_IMMUTABLE_CONTAINERS = (tuple, frozenset)


def _memory_root(array: Any) -> int:
    """Identity of the buffer an ndarray views: the end of its ``.base`` chain."""
    owner = array
    while getattr(owner, "base", None) is not None:
        owner = owner.base
    if isinstance(owner, memoryview):
        owner = owner.obj
    return id(owner)


class _Walk:
    """The identities of the mutable objects (and array buffers) reachable from some values."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.mutable: dict[int, str] = {}  # id -> a description for the user
        self.buffers: dict[int, str] = {}
        self.truncated = False  # stopped at BUDGET: more may be reachable
        self._ndarray, self._skipped, self._by_identity = _kinds(
            loaded_module("numpy"), loaded_module("pandas"))  # never a half-imported one

    def run(self, roots: dict[str, Any]) -> None:
        stack: list[tuple[Any, str]] = [(value, name) for name, value in roots.items()]
        visited = 0
        while stack:
            obj, name = stack.pop()
            if type(obj) in _ATOMS or isinstance(obj, self._skipped):
                continue
            key = id(obj)
            if key in self.seen:
                continue
            self.seen.add(key)
            visited += 1
            if visited > BUDGET:
                self.truncated = True
                return
            if self._ndarray is not None and isinstance(obj, self._ndarray):
                self.buffers.setdefault(_memory_root(obj), name)
                if obj.dtype.hasobject:
                    stack.extend((item, name) for item in obj.flat)
                continue
            if isinstance(obj, types.FunctionType):
                # Not shared state itself: a module's function comes back as the kernel's
                # own, a notebook function is refused when the result is pickled.
                stack.extend((v, name) for v in _function_state(obj))
                continue
            if not isinstance(obj, _IMMUTABLE_CONTAINERS):
                self.mutable.setdefault(key, name)
            if isinstance(obj, self._by_identity):
                continue
            stack.extend((child, name) for child in _children(obj))


@functools.lru_cache(maxsize=4)
def _kinds(numpy: Any, pandas: Any) -> tuple[Any, tuple[type, ...], tuple[type, ...]]:
    """For the loaded numpy and pandas (worked out once, not twice per task): the array
    type, the types not walked, and the types shared by identity only."""
    ndarray = getattr(numpy, "ndarray", None)
    # Values that cannot be changed in place, shared freely by pandas results.
    immutable = tuple(t for t in (
        getattr(numpy, "dtype", None), getattr(pandas, "Index", None),
        getattr(pandas, "api", None) and pandas.api.extensions.ExtensionDtype,
    ) if t is not None)
    # pandas 3 copies on write: two frames sharing memory never see each other's
    # changes, so only a frame's own identity can be shared.
    copy_on_write = pandas is not None and int(pandas.__version__.split(".")[0]) >= 3
    by_identity = (pandas.DataFrame, pandas.Series) if copy_on_write else ()
    return ndarray, _OPAQUE + immutable, by_identity


def _function_state(function: types.FunctionType) -> Iterable[Any]:
    yield from function.__defaults__ or ()
    yield from (function.__kwdefaults__ or {}).values()
    for cell in function.__closure__ or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell
            continue


def _children(obj: Any) -> list[Any]:
    """Direct references worth following (lists of atoms are not walked item by item)."""
    if isinstance(obj, list | tuple | set | frozenset):
        if set(map(type, obj)) <= _ATOMS:
            return []
        return list(obj)
    if isinstance(obj, dict):
        keys_atoms = set(map(type, obj)) <= _ATOMS
        values_atoms = set(map(type, obj.values())) <= _ATOMS
        return ([] if keys_atoms else list(obj)) + ([] if values_atoms else list(obj.values()))
    return gc.get_referents(obj)


def shared_with_inputs(
    bound: dict[str, Any], inputs: dict[str, Any]
) -> str | None:
    """Why ``bound`` cannot be sent back as copies, or None when it shares nothing with
    ``inputs``. (Functions that would come back detached from the kernel's names are
    refused when the result is pickled: :class:`kernel_ext.cell.transport.DetachedFunction`.)
    """
    given = _Walk()
    given.run(inputs)
    if not given.truncated and not given.mutable and not given.buffers:
        return None  # nothing in the inputs could be shared (paths, numbers, functions)
    produced = _Walk()
    produced.run(bound)
    for key, name in produced.mutable.items():
        if key in given.mutable:
            return f"{name!r} shares an object with {given.mutable[key]!r}"
    for key, name in produced.buffers.items():
        if key in given.buffers:
            return f"{name!r} shares memory with {given.buffers[key]!r}"
    # Nothing shared among what was seen; unseen parts matter if the results can share.
    nothing_produced = not produced.truncated and not produced.mutable and not produced.buffers
    if (given.truncated or produced.truncated) and not nothing_produced:
        return "what it binds and its inputs are too large to check for shared objects"
    return None
