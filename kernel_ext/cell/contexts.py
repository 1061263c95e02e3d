"""Context variables of a ``%%parallel`` cell: each statement sees what the plain cell would.

In a plain cell every statement runs in the kernel's main context, so one
statement's ``decimal.getcontext().prec = 5``, ``decimal.setcontext(...)`` or
``var.set(x)`` is seen by the statements after it, and by later cells. A
worker thread starts with an empty context of its own instead.

So a cell run owns one :class:`contextvars.Context`, copied from the kernel's
thread when the run is created (copies are O(1): contexts are immutable maps).
Each statement runs in a fresh copy of the cell's context *as it is when the
statement starts*; when it ends, the variables it changed (compared by
identity, a walk of a few dozen entries) are set in the cell's context, for
the statements that start after it. Statements that change context variables
never run at the same time as statements that read them (the analysis orders
them as one resource), so a statement sees exactly the changes of the
statements before it. Objects held in variables are shared, not copied: an
in-place change such as ``getcontext().prec = 5`` changes the kernel's own
decimal context, as in the plain cell.

When the cell ends, :meth:`CellContext.changes` are set in the kernel's
context. A ``%%parallel`` cell that waits by awaiting runs in an asyncio task,
whose context is a copy that the kernel drops after the cell; the changes are
then set again from a ``post_execute`` hook, which ipykernel calls in the
kernel's own context (:func:`keep_after_cell`).

Not kept: a :class:`contextvars.Token` is bound to the context it was made in,
so ``var.reset(token)`` works within one statement, not with a token from
another statement or an earlier cell (Python raises ``ValueError``).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_UNSET = object()  # a variable the context no longer has a value for (reset to unset)
Changes = dict[contextvars.ContextVar[Any], Any]


class CellContext:
    """The context variables one cell run's statements see, as the plain cell would."""

    def __init__(self) -> None:
        self._start = contextvars.copy_context()
        self._current = self._start  # never entered: statements run in copies of it
        self._lock = threading.Lock()

    def run(self, func: Callable[[], T]) -> T:
        """Run ``func`` in a copy of the cell's context; keep what it changed in there."""
        with self._lock:
            before = self._current
        statement_context = before.copy()
        try:
            return statement_context.run(func)
        finally:
            changed = _changes(before, statement_context)
            if changed:
                with self._lock:
                    self._current = _with(self._current, changed)

    def current(self) -> contextvars.Context:
        """The cell's context as it is now (what a statement starting now would see)."""
        with self._lock:
            return self._current

    def changes(self) -> Changes:
        """What the cell changed, against the kernel's context when the run was created."""
        with self._lock:
            return _changes(self._start, self._current)


def set_in_current_context(changes: Changes) -> None:
    """Set ``changes`` in the calling thread's context (an unset one stays as it is)."""
    for var, value in changes.items():
        if value is not _UNSET:
            var.set(value)


def keep_after_cell(shell: Any, changes: Changes) -> None:
    """Set ``changes`` again when the cell has ended, from the kernel's own context.

    For a cell that awaits: ipykernel runs it in an asyncio task of its own
    whose context is dropped afterwards, and calls ``post_execute`` hooks in
    the kernel's context.
    """
    if not changes or shell is None:
        return

    def set_after_cell() -> None:
        shell.events.unregister("post_execute", set_after_cell)
        set_in_current_context(changes)

    shell.events.register("post_execute", set_after_cell)


def _changes(before: contextvars.Context, after: contextvars.Context) -> Changes:
    """Variables whose value in ``after`` is not the very object they hold in ``before``."""
    out: Changes = {}
    added = 0
    for var, value in after.items():
        old = before.get(var, _UNSET)
        if old is not value:
            out[var] = value
            added += old is _UNSET
    if len(after) - added < len(before):  # some variable was reset to unset
        for var in before:
            if var not in after:
                out[var] = _UNSET
    return out


def _with(context: contextvars.Context, changes: Changes) -> contextvars.Context:
    """A copy of ``context`` with ``changes`` made."""
    if any(value is _UNSET for value in changes.values()):
        kept = {var: value for var, value in context.items() if var not in changes}
        kept.update((var, value) for var, value in changes.items() if value is not _UNSET)
        fresh = contextvars.Context()
        fresh.run(set_in_current_context, kept)
        return fresh
    updated = context.copy()
    updated.run(set_in_current_context, changes)
    return updated


__all__ = ["CellContext", "Changes", "keep_after_cell", "set_in_current_context"]
