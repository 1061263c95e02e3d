"""The user's own modules a shipped statement reaches, and whether it changed their state.

A function imported from a module of the user's (``from helpers import load``)
is sent to a worker by reference: the worker imports its own copy of the
module. When the function keeps state in its module (a cache, a call log), the
worker's copy changes and the kernel's does not. The worker therefore pickles
the plain data of such modules before and after the run, and when it changed,
the statement runs in the kernel. Modules of the standard library and of
installed packages are not watched (their state is the analysis' business).
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
import types
from collections.abc import Iterable
from typing import Any

from kernel_ext.cell import transport

_CODE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


def _library_roots() -> tuple[str, ...]:
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
             sysconfig.get_paths()["stdlib"]}
    return tuple(os.path.realpath(p) + os.sep for p in paths if p)


_LIBRARY_ROOTS = _library_roots()


def reached_user_modules(values: Iterable[Any]) -> list[types.ModuleType]:
    """The user's modules whose functions, classes or objects are among ``values``
    (or the globals of the notebook functions among them)."""
    found: dict[str, types.ModuleType] = {}
    todo = list(values)
    for value in list(todo):
        if isinstance(value, types.FunctionType) and value.__module__ in (None, "__main__"):
            todo.extend(value.__globals__.values())  # a notebook function: what it calls
    for value in todo:
        if isinstance(value, types.ModuleType):
            module: Any = value
        else:
            owner = value if isinstance(value, type | types.FunctionType) else type(value)
            module = sys.modules.get(getattr(owner, "__module__", None) or "")
        if module is not None and _is_users(module):
            found[module.__name__] = module
    return list(found.values())


def _is_users(module: types.ModuleType) -> bool:
    path = getattr(module, "__file__", None)
    if not path or module.__name__ == "__main__":
        return False
    return _outside_libraries(path)


@functools.lru_cache(maxsize=4096)
def _outside_libraries(path: str) -> bool:
    """Whether a module file lies outside the standard library and installed packages
    (resolving links costs a few µs, and this is asked for every task)."""
    return not os.path.realpath(path).startswith(_LIBRARY_ROOTS)


def state_of(modules: list[types.ModuleType]) -> list[bytes]:
    """The pickled plain data of each module (values that cannot be pickled are left out)."""
    states = []
    for module in modules:
        data = {name: value for name, value in vars(module).items()
                if not name.startswith("__") and not isinstance(value, _CODE)}
        try:
            states.append(transport.dumps(data))
        except Exception:  # noqa: BLE001 - keep what can be compared
            states.append(transport.dumps(_picklable(data)))
    return states


def _picklable(data: dict[str, Any]) -> dict[str, Any]:
    kept = {}
    for name, value in data.items():
        try:
            transport.dumps(value)
        except Exception:  # noqa: BLE001 - left out of the comparison
            continue
        kept[name] = value
    return kept
