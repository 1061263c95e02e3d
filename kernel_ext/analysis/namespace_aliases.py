"""Objects that names of earlier cells share: `b = a[0]`, `v = arr[2:5]`, `m.data = df`.

A cell that changes `a[0]` in place changes what `b` shows, so the plan must
know that `a` and `b` may share an object.  Identity between names is cheap to
see; containment and numpy views need a look inside the values.  The look is
bounded (a few levels, a budget of elements per cell), so a huge container is
only looked at in part: `docs/parallel_assumptions.md` says so.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping

from kernel_ext.analysis.effects import has_attribute_hooks, is_immutable

_PER_CONTAINER = 1000  # elements looked at in one container
_BUDGET = 20000  # elements looked at in all containers of one cell's namespace
_DEPTH = 4  # containers inside containers looked into
_SKIP_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
               types.MethodType)
_IPYTHON_NAMES = frozenset({"In", "Out", "exit", "quit", "get_ipython"})


def shared_objects(ns: Mapping[str, object], names: Iterable[str]) -> list[list[str]]:
    """Groups of names whose objects may overlap (each group has two names or more)."""
    by_id: dict[int, list[str]] = {}
    candidates: list[tuple[str, object]] = []
    for name in names:
        if name[:1] == "_" or name in _IPYTHON_NAMES or name not in ns:
            continue
        value = ns[name]
        if is_immutable(value) or isinstance(value, _SKIP_TYPES):
            continue
        candidates.append((name, value))
        by_id.setdefault(id(value), []).append(name)
        if type(value).__module__ == "__main__" and isinstance(
            getattr(value, "__dict__", None), dict
        ) and not has_attribute_hooks(type(value)):
            by_id.setdefault(id(value.__dict__), []).append(name)  # attrs = obj.__dict__
        base = _array_base(value)
        if base is not None:
            by_id.setdefault(id(base), []).append(name)  # views of one buffer share it
    groups = [same for same in by_id.values() if len(same) > 1]
    budget = [_BUDGET]
    for name, value in candidates:
        if budget[0] <= 0:
            break
        held = _contained(value, by_id, budget, _DEPTH) - {name}
        if held:
            groups.append([name, *sorted(held)])
    return groups


def _array_base(value: object) -> object | None:
    """The object owning a numpy array's memory (the array itself if it owns it)."""
    if type(value).__module__ != "numpy" or not hasattr(value, "base"):
        return None
    root = value
    while getattr(root, "base", None) is not None:
        root = root.base  # type: ignore[attr-defined]
    return root if root is not value else None


def _contained(
    value: object, by_id: Mapping[int, list[str]], budget: list[int], depth: int
) -> set[str]:
    """Names whose objects `value` holds (lists, tuples, sets, dicts, object attributes)."""
    if isinstance(value, dict):
        items: Iterable[object] = value.values()
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    elif type(value).__name__ == "ChainMap" and isinstance(getattr(value, "maps", None), list):
        items = value.maps  # collections.ChainMap over dicts of earlier cells
    elif type(value).__module__ == "__main__" and not has_attribute_hooks(type(value)) and (
        isinstance(getattr(value, "__dict__", None), dict)
    ):
        items = vars(value).values()
    else:
        return set()
    found: set[str] = set()
    for i, item in enumerate(items):
        if i >= _PER_CONTAINER or budget[0] <= 0:
            break
        budget[0] -= 1
        if is_immutable(item):
            continue
        names = by_id.get(id(item))
        if names:
            found.update(names)
        owner = getattr(item, "__self__", None) if callable(item) else None
        if owner is not None and id(owner) in by_id:  # `self.add = rows.append`
            found.update(by_id[id(owner)])
        base = _array_base(item)
        if base is not None and id(base) in by_id:
            found.update(by_id[id(base)])
        if depth > 1:
            found |= _contained(item, by_id, budget, depth - 1)
    return found
