"""Statements that run in a worker process: inputs go by value, bound names come back.

With ``%%parallel --processes``, a statement that only binds names (``x = f(a, b)``)
is sent to a worker process with the values of the names it reads, and the
values it binds come back and are bound in the kernel. Everything else (in-place
changes, effects, definitions, imports) must touch the kernel's own objects and
runs in the kernel.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, MutableMapping
from types import CodeType
from typing import Any

import cloudpickle

from kernel_ext.analysis import Statement
from kernel_ext.errors import NotSendableError

_BINDING_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign)


def can_ship(stmt: Statement) -> bool:
    """True for statements whose whole effect is binding the names they assign."""
    node = stmt.node
    if stmt.effect or stmt.opaque or stmt.fanout is not None or stmt.produces_value:
        return False
    if not isinstance(node, _BINDING_STATEMENTS):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif not isinstance(sub, ast.Tuple | ast.List | ast.Starred | ast.expr_context):
                return False  # attribute or subscript targets change an existing object
    return stmt.writes == frozenset(names)


def gather_inputs(namespace: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The current values of the names a shipped statement reads (those that exist)."""
    return {name: namespace[name] for name in names if name in namespace}


def run_shipped(code: CodeType, inputs: dict[str, Any], outputs: tuple[str, ...]) -> dict[str, Any]:
    """In the worker: run the statement in a namespace of its inputs, return what it bound."""
    namespace = dict(inputs)
    exec(code, namespace)
    return {name: namespace[name] for name in outputs if name in namespace}


def bind_outputs(namespace: MutableMapping[str, Any], values: dict[str, Any]) -> None:
    namespace.update(values)


def explain_not_sendable(
    error: NotSendableError, stmt: Statement, namespace: Mapping[str, Any]
) -> NotSendableError:
    """Name the variable that could not be pickled, and say what to do."""
    for name in sorted(stmt.reads):
        if name not in namespace:
            continue
        try:
            cloudpickle.dumps(namespace[name])
        except Exception as exc:  # noqa: BLE001 - any pickling failure names the culprit
            value = namespace[name]
            return NotSendableError(
                f"line {stmt.lineno}: variable {name!r} ({type(value).__name__}) cannot be sent "
                f"to a worker process ({exc}). Run this cell on threads (drop --processes), "
                "or create the object inside the statement that uses it."
            )
    return NotSendableError(
        f"line {stmt.lineno}: the values this statement binds ({', '.join(sorted(stmt.writes))}) "
        f"cannot be sent back from a worker process ({error.__cause__ or error}). "
        "Run this cell on threads "
        "(drop --processes)."
    )
