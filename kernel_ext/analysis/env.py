"""What is known about a cell's names before it runs, and how its statements change that.

The namespace tells which names hold modules, library callables (by qualified
name), immutable values, numpy/pandas objects, and callables the analysis cannot
see through; bindings in the cell and imports update that as the plan is built.
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from kernel_ext.analysis.effects import IMMUTABLE_TYPES, is_immutable, qualname_of
from kernel_ext.analysis.names import Env
from kernel_ext.analysis.state import is_notebook_function, value_state

_IMPORTS = (ast.Import, ast.ImportFrom)
# Exact types whose instances have no __self__/__name__/__module__: qualname_of is None.
PLAIN_DATA = frozenset({*IMMUTABLE_TYPES, list, dict, set, tuple})


def initial_env(ns: Mapping[str, object], tree: ast.Module) -> Env:
    qualnames: dict[str, str] = {}
    modules: set[str] = set()
    immutables: set[str] = set()
    unknown: dict[str, bool] = {}
    data: dict[str, str] = {}
    for name, value in ns.items():
        if type(value) in PLAIN_DATA:  # the bulk of a namespace: no qualname, not a module
            if type(value) in IMMUTABLE_TYPES:
                immutables.add(name)
            continue
        if isinstance(value, types.ModuleType):
            modules.add(name)
        if is_immutable(value):
            immutables.add(name)
        qualname = qualname_of(value)
        if qualname is not None and not qualname.startswith("__main__."):
            qualnames[name] = qualname
        elif _is_unknown_callable(value):
            unknown[name] = True
        elif _is_data_object(value):
            data[name] = type(value).__module__
    bound = _names_bound_anywhere(tree)
    return Env(
        qualnames=MappingProxyType(qualnames),
        modules=frozenset(modules),
        user_names=frozenset(ns) | bound,
        immutables=frozenset(immutables),
        unknown_callables=unknown,  # grown by the builder as the cell binds values
        data_objects=data,  # shrunk by the builder as the cell rebinds names
    )


def _is_data_object(value: object) -> bool:
    """A numpy array or a pandas Series, DataFrame or Index (not a random generator,
    an iterator or another object of those libraries with state of its own)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        return True
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.Series | pandas.DataFrame | pandas.Index)


def _is_unknown_callable(value: object) -> bool:
    """A callable whose call the analysis cannot follow: a bound method, a callable
    object, a cached wrapper, a notebook function that keeps state of its own."""
    if not callable(value) or isinstance(value, type):
        return False
    if is_notebook_function(value):
        return value_state(value).reason is not None
    return not isinstance(value, types.FunctionType)


def _names_bound_anywhere(tree: ast.Module) -> frozenset[str]:
    """Names bound anywhere in the cell, nested scopes included (parameters are not)."""
    bound: set[str] = set()
    add = bound.add
    todo: list[ast.AST] = [tree]
    pop, push, extend = todo.pop, todo.append, todo.extend
    AST, Name, Load, Constant = ast.AST, ast.Name, ast.Load, ast.Constant  # noqa: N806
    children = _CHILD_FIELDS
    while todo:
        node = pop()
        kind = type(node)
        if kind is Name:
            if type(node.ctx) is not Load:  # type: ignore[attr-defined]
                add(node.id)  # type: ignore[attr-defined]
            continue
        if kind is Constant or not isinstance(node, AST):
            continue
        binds = _BINDS.get(kind)
        if binds is not None:
            binds(node, bound)
        fields = children.get(kind)
        if fields is None:
            fields = children[kind] = tuple(f for f in kind._fields if f not in _SCALAR_FIELDS)
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                extend(value)  # may hold None / str: skipped when popped
            elif isinstance(value, AST):
                push(value)
    return frozenset(bound)


def _bind_def(node: Any, bound: set[str]) -> None:
    bound.add(node.name)


def _bind_import(node: Any, bound: set[str]) -> None:
    bound.update((a.asname or a.name).split(".")[0] for a in node.names)


def _bind_if_named(node: Any, bound: set[str]) -> None:
    if node.name:
        bound.add(node.name)


_BINDS: dict[type, Callable[[Any, set[str]], None]] = {
    ast.FunctionDef: _bind_def,
    ast.AsyncFunctionDef: _bind_def,
    ast.ClassDef: _bind_def,
    ast.Import: _bind_import,
    ast.ImportFrom: _bind_import,
    ast.ExceptHandler: _bind_if_named,
    ast.MatchAs: _bind_if_named,
    ast.MatchStar: _bind_if_named,
}
# Fields that never hold nodes with names in them (strings, numbers, contexts, operators).
_SCALAR_FIELDS = frozenset(
    {"id", "ctx", "op", "kind", "attr", "arg", "name", "asname", "module", "level",
     "type_comment", "conversion", "is_async", "simple", "tag"}
)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def rebind_env(env: Env, node: ast.stmt, binds: frozenset[str]) -> Env:
    """Names rebound by the cell lose what the namespace told us; imports teach us modules."""
    imports = isinstance(node, _IMPORTS)
    if not imports:
        if not _known(binds, env):
            return env  # nothing known about the rebound names: the same env (and its caches)
        if not any(name in env.qualnames or name in env.modules for name in binds):
            return env.forgetting_immutables(binds)  # rebound namespace values
    qualnames = {k: v for k, v in env.qualnames.items() if k not in binds}
    modules = set(env.modules - binds)
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                qualnames[alias.asname] = alias.name
                modules.add(alias.asname)
            else:
                root = alias.name.split(".")[0]
                qualnames[root] = root
                modules.add(root)
    elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            name = alias.asname or alias.name
            qualnames[name] = full
            if full in sys.modules:
                modules.add(name)
    return replace(
        env,
        qualnames=MappingProxyType(qualnames),
        modules=frozenset(modules),
        immutables=env.immutables - binds,
    )


def _known(binds: frozenset[str], env: Env) -> bool:
    """Whether the env knows anything about one of `binds` (usually none, or one, name)."""
    qualnames, modules, immutables = env.qualnames, env.modules, env.immutables
    return any(name in qualnames or name in modules or name in immutables for name in binds)
