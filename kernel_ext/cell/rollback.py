"""Rolling a cell back as the plain cell would have stopped: what names were before.

When a statement fails, the plain cell never runs the statements after it, so
names that later statements already bound on other threads are put back from
*snapshots*: each statement's written names as they were before it ran.

A snapshot holds the old objects, and an object held is not finalized: in a
plain cell ``del f`` or rebinding ``f`` runs ``__del__`` and closes (flushes) a
file at once. So a snapshot is kept only while a rollback can still need it:
until every earlier statement has ended ok (else the statement is rolled back)
and the statement itself has ended (an interrupted one undoes its own names).
:meth:`Snapshots.ended` hands back the snapshots let go, for the caller to
drop inside the right statement's output capture, so a finalizer's output shows
in the place of the statement that let the object go.
"""

from __future__ import annotations

import ast
from collections.abc import MutableMapping
from typing import Any

from kernel_ext.analysis import Statement

_MISSING = object()


class Snapshots:
    """Each statement's snapshot, for as long as a rollback may need it.

    Not thread-safe on its own: the cell run calls it under its lock.
    """

    def __init__(self, count: int, namespace: MutableMapping[str, Any]) -> None:
        self._ns = namespace
        self._kept: list[dict[str, Any] | None] = [None] * count
        self._ended = [False] * count  # ran to its end (ok or failed)
        self._ended_ok = [False] * count
        self._ok_prefix = 0  # every statement before this one ended ok
        self._next_release = 0  # statements before this one keep no snapshot

    def take(self, index: int, names: set[str] | frozenset[str]) -> None:
        """Before statement ``index`` runs: the names it writes, as they are now.

        None when every earlier statement already ended ok: no rollback can need it,
        and `del f` then lets the object go inside the statement itself, as the plain
        cell does (a finalizer's warnings name the cell's line). The read of the
        prefix is unlocked: a stale value only takes a snapshot that was not needed.
        """
        if index <= self._ok_prefix:
            return
        ns = self._ns
        self._kept[index] = {name: ns.get(name, _MISSING) for name in names}

    def ended(self, index: int, ok: bool) -> list[tuple[int, dict[str, Any]]]:
        """Statement ``index`` ended: the snapshots no rollback can need any more,
        as (statement, snapshot); clearing a snapshot lets its objects go."""
        count = len(self._kept)
        self._ended[index] = True
        self._ended_ok[index] = ok
        while self._ok_prefix < count and self._ended_ok[self._ok_prefix]:
            self._ok_prefix += 1
        released: list[tuple[int, dict[str, Any]]] = []
        k = self._next_release
        while k < count and k <= self._ok_prefix and self._ended[k]:
            snapshot, self._kept[k] = self._kept[k], None
            if snapshot:
                released.append((k, snapshot))
            k += 1
        self._next_release = k
        return released

    def restore(self, index: int) -> None:
        """Put statement ``index``'s names back as they were before it ran."""
        snapshot = self._kept[index]
        if snapshot is None:
            return
        self._kept[index] = None
        for name, value in snapshot.items():
            if value is _MISSING:
                self._ns.pop(name, None)
            else:
                self._ns[name] = value


def only_rebinds(stmt: Statement) -> bool:
    """True when every name the statement writes is one it binds itself (undoable by rebinding).

    Rollback after an earlier failure puts names back; it cannot undo an
    in-place change (``c.append(b)``, ``x[i] = v``, ``L += [1]``, a call that
    mutates an argument), so such a statement must not run before every
    earlier statement has succeeded.
    """
    node = stmt.node
    bound: set[str] = set()
    if isinstance(node, ast.Assign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute | ast.Subscript):
                    return False
                if isinstance(sub, ast.Name):
                    bound.add(sub.id)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        bound.add(node.name)
    elif isinstance(node, ast.Import | ast.ImportFrom):
        bound.update((a.asname or a.name).split(".")[0] for a in node.names)
    elif isinstance(node, ast.Delete):
        if not all(isinstance(t, ast.Name) for t in node.targets):
            return False
        bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    elif isinstance(node, ast.Expr):
        pass  # writes nothing by binding: any write is an in-place change
    else:
        return not stmt.writes
    return stmt.writes <= bound


def bound_names(stmt: Statement) -> set[str]:
    """The names a statement binds itself (assignment, def, class, import, loop targets, del).

    In-place changes (``L.append(x)``, ``d[k] = v``) bind nothing: when such a
    statement does not run, the object is simply unchanged.
    """
    node = stmt.node
    out: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        out.add(node.name)
    todo: list[ast.AST] = [node]
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            out.add(sub.id)
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name).split(".")[0] for a in sub.names if a.name != "*")
        if sub is not node and isinstance(
            sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        ):
            if not isinstance(sub, ast.Lambda):
                out.add(sub.name)
            continue  # a nested scope binds its own names
        if isinstance(sub, ast.AugAssign):
            continue  # x += ... changes x (maybe in place) rather than producing it
        todo.extend(ast.iter_child_nodes(sub))
    return out & stmt.writes
