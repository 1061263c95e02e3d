"""Run an analysed cell on the engine so that it means what the plain cell means.

Each top-level statement becomes a task that executes in the user namespace;
the plan's edges become the task's dependencies. Beyond the plan, a statement
with outside effects also waits for *every* earlier statement: in a plain cell
an earlier failure stops it, and an effect that has happened cannot be undone.

When the job ends, the cell's outcome is decided the way Python would decide
it: the earliest failing statement (in cell order) is the cell's error, its
output and every earlier statement's output are shown, and names bound by
later statements that already ran are put back as they were before those
statements ran. An interrupt does the same at the earliest unfinished
statement; statements still running on threads (which cannot be stopped)
put their own names back when they end.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Hashable, MutableMapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from kernel_ext.analysis import CellPlan, FanOutKind, Statement
from kernel_ext.cell import dask_bridge
from kernel_ext.cell.cell_errors import (
    below_cell_line,
    comprehension_has_a_frame,
    for_user,
    shorten,
    statement_error,
    through_coroutine,
    with_cell_frame,
)
from kernel_ext.cell.contexts import (
    CellContext,
    Changes,
    keep_after_cell,
    set_in_current_context,
)
from kernel_ext.cell.fanout_exec import run_fanout
from kernel_ext.cell.live import LiveViews, ViewOptions, live_views
from kernel_ext.cell.output import (
    OrderedRelease,
    acquire_routing,
    capturing_into,
    release_routing,
    routed_output,
)
from kernel_ext.cell.rollback import Snapshots, bound_names, only_rebinds
from kernel_ext.cell.shipping import (
    can_ship,
    prepare_shipment,
    run_in_worker,
    settle_shipped,
)
from kernel_ext.cell.tracebacks import mark_for_cell
from kernel_ext.errors import JobCancelledError
from kernel_ext.events import TaskState
from kernel_ext.graph import Call, Graph, Ref, Task
from kernel_ext.scheduler import Job, JobStatus

_TICK = 0.02  # seconds between releases of ready output while a cell waits


@dataclass(frozen=True)
class RunOptions:
    """How to run a cell: engine backend and worker count."""

    backend: str = "threads"
    workers: int | None = None
    views: ViewOptions | None = None  # None: no live views
    name: str = "%%parallel cell"  # the job's name, shown by its views
    cluster: Any = None  # a distributed.Client: the processes backend on its workers


class CellRun:
    """One execution of one ``%%parallel`` cell."""

    def __init__(
        self,
        plan: CellPlan,
        namespace: MutableMapping[str, Any],
        filename: str,
        options: RunOptions,
        shell: Any | None = None,
        compile_flags: int = 0,
        before_statement: Callable[[Statement], None] | None = None,
    ) -> None:
        self.plan = plan
        self.ns = namespace
        self.filename = filename
        self.options = options
        self.shell = shell
        self._flags = compile_flags
        count = len(plan.statements)
        self.release = OrderedRelease(count)
        self._snapshots = Snapshots(count, namespace)  # for rollbacks, while needed
        self.context = CellContext()  # the context variables the statements see
        self._abandon_from: int | None = None  # statements >= this undo themselves on ending
        self._abandoned: set[int] = set()  # background: unfinished at the end, undo on ending
        self._before_statement = before_statement  # e.g. check earlier background jobs
        self._routing_held = False  # background: output routing acquired, not yet released
        self._lock = threading.Lock()
        # --processes: statements the kernel ran itself, and why (copies would differ)
        self.ran_in_kernel: dict[int, str] = {}
        slots = None
        workers = options.workers
        if options.cluster is not None:  # statements ship to the cluster as to processes
            from kernel_ext.cluster_slots import slot_pool_of

            slots = slot_pool_of(options.cluster)
            workers = workers or slots.threads
        self.job = Job(
            Graph(task for stmt in plan.statements for task in self._tasks(stmt)),
            list(range(count)),
            backend=options.backend,
            num_workers=workers,
            keep_going=True,
            name=options.name,
            slot_pool=slots,
        )

    # ------------------------------------------------------------------ building

    def _tasks(self, stmt: Statement) -> list[Task]:
        """The statement's task, preceded by its worker-process part when it is shipped."""
        deps: set[Hashable] = {edge.before for edge in stmt.deps}
        if stmt.effect or stmt.opaque or not only_rebinds(stmt):
            deps.update(range(stmt.index))
        if self.options.backend != "processes" or not can_ship(stmt):
            return [self._task(stmt, frozenset(deps), self._statement_runner(stmt))]
        code, _ = self._compile(stmt)
        shipment = functools.partial(self._shipment, code)
        remote = Task(
            key=("worker", stmt.index),
            func=run_in_worker,
            args=(Call(shipment, (tuple(sorted(stmt.reads)), tuple(sorted(stmt.writes)))),),
            deps=frozenset(deps),
            group=f"line {stmt.lineno} (worker)",
        )
        bind = self._task(stmt, frozenset({remote.key}), self._binding_runner(stmt))
        return [remote, bind]

    def _shipment(self, code: CodeType, reads: tuple[str, ...],
                  outputs: tuple[str, ...]) -> Any:
        """A shipped statement's code and inputs when it is due, with the context variables
        (decimal's context) it would see then."""
        return prepare_shipment(self.ns, code, self.context.current(), reads, outputs)

    def _task(self, stmt: Statement, deps: frozenset[Hashable], func: Callable[..., Any]) -> Task:
        edge_labels = {edge.before: ", ".join(sorted(edge.reasons)) for edge in stmt.deps}
        first_line = stmt.source.splitlines()[0] if stmt.source else ""
        label = f"line {stmt.lineno}: {shorten(first_line, 40)}"
        return Task(
            key=stmt.index,
            func=func,
            args=(Ref(("worker", stmt.index)),) if ("worker", stmt.index) in deps else (),
            deps=deps,
            group=label,
            meta={
                "label": label,
                "source": stmt.source,
                "lineno": stmt.lineno,
                "edge_labels": edge_labels,
                "fans_out": stmt.fanout is not None,  # views show its iterations' count
            },
            local=True,
        )

    def _compile(self, stmt: Statement) -> tuple[CodeType, bool]:
        """Compile one statement; top-level ``await`` is allowed, as in a plain cell."""
        flags = self._flags | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        if stmt.produces_value:
            assert isinstance(stmt.node, ast.Expr)
            expr = ast.Expression(stmt.node.value)
            return compile(expr, self.filename, "eval", flags=flags, dont_inherit=True), True
        module = ast.Module(body=[stmt.node], type_ignores=[])
        return compile(module, self.filename, "exec", flags=flags, dont_inherit=True), False

    def _statement_runner(self, stmt: Statement) -> Callable[[], Any]:
        code, is_eval = self._compile(stmt)
        index = stmt.index
        writes = stmt.writes
        ns = self.ns
        buffer = self.release.buffers[index]

        fanout = stmt.fanout
        is_async = bool(code.co_flags & inspect.CO_COROUTINE)

        before = self._before_statement

        def run_in_context() -> Any:
            self._snapshots.take(index, writes)
            ok = False
            try:
                with capturing_into(buffer):
                    try:
                        value = run_code()
                        ok = True
                        return value
                    finally:
                        self._settle_snapshots(index, ok)  # finalizers print in place
            finally:
                self._statement_ended(index)

        def run_statement() -> Any:
            return self.context.run(run_in_context)

        def run_code() -> Any:
            if before is not None:
                before(stmt)
            if fanout is not None:
                try:
                    run_fanout(fanout, ns, self.filename, flags=self._flags,
                               backend=self.options.backend, workers=self.options.workers,
                               context=contextvars.copy_context(),  # this statement's
                               job=self.job, key=index)
                except Exception as error:
                    if fanout.kind is FanOutKind.FOR_LOOP or not comprehension_has_a_frame():
                        raise
                    raise below_cell_line(error, self.filename, stmt.lineno)  # noqa: B904
                return None
            joined = dask_bridge.join(self.job, index)  # its Dask computations: the cell's job
            try:
                value = eval(code, ns)  # also runs exec-mode code; returns None then
            finally:
                dask_bridge.leave(joined)
            if is_async:
                # A statement with top-level await: run it on an event loop
                # of this worker thread's own (it is opaque, so it runs alone).
                value = asyncio.run(value)
            return value if is_eval else None

        run_statement.__qualname__ = f"statement_{index}"
        return run_statement

    def _binding_runner(self, stmt: Statement) -> Callable[[Any], None]:
        """Bind what a statement computed in a worker process, or run it here when the
        worker says its copies would not mean what the plain cell means."""
        index = stmt.index
        writes = stmt.writes
        ns = self.ns
        code, _ = self._compile(stmt)
        buffer = self.release.buffers[index]

        def run_here() -> None:
            exec(code, ns)

        def bind_in_context(outcome: Any) -> None:
            self._snapshots.take(index, writes)
            ok = False
            try:
                with capturing_into(buffer):
                    try:
                        reason = settle_shipped(outcome, ns, run_here)
                        ok = True
                    finally:
                        self._settle_snapshots(index, ok)
                if reason is not None:
                    self.ran_in_kernel[index] = reason
            finally:
                self._statement_ended(index)

        def bind_statement(outcome: Any) -> None:
            self.context.run(functools.partial(bind_in_context, outcome))

        bind_statement.__qualname__ = f"statement_{index}"
        return bind_statement

    def _settle_snapshots(self, index: int, ok: bool) -> None:
        """Statement ``index`` ended: let go of the snapshots no rollback can need any more
        (:mod:`kernel_ext.cell.rollback`). Called inside the statement's output capture;
        a later statement's snapshot is let go inside that statement's capture, so a
        finalizer's output shows in the place of the statement that let it go."""
        with self._lock:
            if self._abandon_from is not None and index >= self._abandon_from:
                return
            if index in self._abandoned:
                return
            released = self._snapshots.ended(index, ok)
        for k, snapshot in released:
            if k == index:
                snapshot.clear()
            else:
                with capturing_into(self.release.buffers[k]):
                    snapshot.clear()

    def _statement_ended(self, index: int) -> None:
        self.release.mark_ended(index)
        with self._lock:
            if self._abandon_from is not None and index >= self._abandon_from:
                self._restore(index)
            elif index in self._abandoned:
                self._restore(index)
                self._unbind(self._unproduced_by(index))

    # ------------------------------------------------------------------- running

    def run(self) -> Any:
        """Run the cell to its end and return the final expression's value (or None).

        Raises what the plain cell would raise. Output is replayed on the
        calling thread as statements finish, in statement order.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        job = self.job
        with routed_output(self.shell), live_views(job, self.options.views) as views:
            self._start(views)
            try:
                try:
                    while not job.wait(_TICK):
                        self._tick(views)
                except KeyboardInterrupt:
                    raise self._interrupted() from None
                self._settle()
            finally:
                self._cell_ended()
        return self._value()

    async def run_awaiting(self) -> Any:
        """:meth:`run` for a cell that awaits on the kernel's event loop.

        The loop stays free to serve widget messages (the Cancel button)
        while the job runs. The kernel turns an interrupt into the
        cancellation of this await; the cell then raises ``KeyboardInterrupt``,
        as the plain cell would.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        job = self.job
        with routed_output(self.shell), live_views(job, self.options.views) as views:
            self._start(views)
            # Woken as soon as the job ends, not at the next tick: a cell (a loop run in
            # place) then takes the time of its work, not a multiple of the tick.
            loop = asyncio.get_running_loop()
            ended = loop.create_future()
            job.add_done_callback(lambda _job: _wake(loop, ended))
            try:
                try:
                    while not job.wait(0):
                        await asyncio.wait([ended], timeout=_TICK)
                        self._tick(views)
                except (KeyboardInterrupt, asyncio.CancelledError):
                    raise self._interrupted() from None
                try:
                    self._settle()
                except (StopIteration, StopAsyncIteration) as error:
                    raise through_coroutine(error) from None
            finally:
                # This runs in the awaiting cell's task, whose context the kernel drops.
                keep_after_cell(self.shell, self._cell_ended())
        return self._value()

    def _cell_ended(self) -> Changes:
        """Leave the kernel as the plain cell leaves it: the context variables the
        statements changed are set in the kernel's context (returned), and threads
        the statements started write straight through from now on."""
        self.release.close()
        changes = self.context.changes()
        set_in_current_context(changes)
        return changes

    def _start(self, views: LiveViews | None) -> None:
        if views is not None:
            views.before_start()
        self.job.start()

    def _tick(self, views: LiveViews | None) -> None:
        self.release.release_ready(self.shell)
        if views is not None:
            views.tick()

    def _interrupted(self) -> BaseException:
        """Stop the cell where it was; the ``KeyboardInterrupt`` the plain cell raises there."""
        self.job.cancel()  # the interrupt may land outside the wait
        line = self._stop_at_first_unfinished()
        return self._raised_at(KeyboardInterrupt(), line)

    def _stop_at_first_unfinished(self) -> int:
        """Stop at the earliest unfinished statement; its line in the cell (0: none)."""
        stop = self._first_unfinished()
        self._stop_at(stop, unfinished=True)
        statements = self.plan.statements
        return statements[stop].lineno if stop < len(statements) else 0

    def _raised_at(self, error: BaseException, line: int) -> BaseException:
        """``error`` as raised by the cell's line ``line``, shown from there on."""
        if line:
            error = with_cell_frame(error, self.filename, line)
        return mark_for_cell(error, self.filename)

    def _settle(self) -> None:
        """After the job ended: raise the plain cell's error, or release the rest of the output."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        job = self.job
        if job.status is JobStatus.CANCELLED:
            line = self._stop_at_first_unfinished()
            raise self._raised_at(
                JobCancelledError(f"the %%parallel cell was cancelled at line {line}"), line)
        failed = self._first_failed()
        if failed is not None:
            self._stop_at(failed)
            raise for_user(self._error_of(failed), self.filename)
        self.release.release_ready(self.shell)

    def _value(self) -> Any:
        last = len(self.plan.statements) - 1
        if last >= 0 and self.plan.statements[last].produces_value:
            return self.job.results[last]
        return None

    # ---------------------------------------------------------------- background

    def start_background(self) -> None:
        """Start the job and return at once.

        The owner then calls :meth:`tick` now and then (from a thread whose
        output goes to the starting cell) and :meth:`settle_background` once
        the job has ended.
        """
        acquire_routing(self.shell)
        self._routing_held = True
        try:
            self.job.start()
        except BaseException:
            self._routing_held = False
            release_routing()
            raise

    def tick(self) -> None:
        """Release the output that is ready, in statement order, from the calling thread."""
        self.release.release_ready(self.shell)

    def settle_background(self) -> tuple[int | None, BaseException | None]:
        """After the job ended: keep what it produced, unbind what it did not.

        Unlike a foreground cell, finished statements stay (later cells may
        already have used their names), and names that unfinished statements
        would have bound are removed rather than restored to earlier values,
        so nothing stale stands in for them. Statements still running on
        threads (after a cancel) undo themselves when they end. All output
        is released. Returns the earliest failing statement and its error
        as the user should see it (None, None when nothing failed).
        """
        states = self.job.states()
        count = len(self.plan.statements)
        with self._lock:
            unfinished = {i for i in range(count) if states[i] is not TaskState.FINISHED}
            self._abandoned |= unfinished
            for i in unfinished:
                self._unbind(self._unproduced_by(i, states))
        self.release.release_rest(self.shell)
        if self._routing_held:  # a job cancelled before it started never held it
            self._routing_held = False
            release_routing()
        failed = self._first_failed()
        if failed is None:
            return None, None
        return failed, for_user(self._error_of(failed), self.filename)

    def unproduced_names(self, states: dict[Hashable, TaskState] | None = None) -> set[str]:
        """Names the unfinished statements would bind and no finished statement bound."""
        states = self.job.states() if states is None else states
        out: set[str] = set()
        for stmt in self.plan.statements:
            if states[stmt.index] is not TaskState.FINISHED:
                out |= self._unproduced_by(stmt.index, states)
        return out

    def _unproduced_by(
        self, index: int, states: dict[Hashable, TaskState] | None = None
    ) -> set[str]:
        states = self.job.states() if states is None else states
        produced: set[str] = set()
        for stmt in self.plan.statements:
            if states[stmt.index] is TaskState.FINISHED and stmt.index not in self._abandoned:
                produced |= stmt.writes
        return bound_names(self.plan.statements[index]) - produced

    def _unbind(self, names: set[str]) -> None:
        for name in names:
            self.ns.pop(name, None)

    def _first_failed(self) -> int | None:
        """The earliest statement (in cell order) that failed, here or in its worker part."""
        failed = [_statement_of(key) for key, _ in self.job.errors]
        return min(failed) if failed else None

    def _error_of(self, index: int) -> BaseException:
        errors = {_statement_of(key): error for key, error in reversed(self.job.errors)}
        return statement_error(errors[index], self.plan.statements[index], self.filename,
                               self.ns, died_here=_statement_of(
                                   getattr(errors[index], "key", None)) == index)

    def _first_unfinished(self) -> int:
        states = self.job.states()
        for i in range(len(self.plan.statements)):
            if states[i] is not TaskState.FINISHED:
                return i
        return len(self.plan.statements)

    def _stop_at(self, stop: int, unfinished: bool = False) -> None:
        """Make the namespace and output what the plain cell leaves when it stops at ``stop``.

        ``unfinished``: ``stop`` was interrupted or cancelled, not failed. Its
        assignment never completes in the plain cell, so it too puts its names
        back if it ends later on its thread.
        """
        states = self.job.states()
        first_undone = stop if unfinished else stop + 1
        with self._lock:
            self._abandon_from = first_undone
            for i in reversed(range(first_undone, len(self.plan.statements))):
                if states[i] is TaskState.FINISHED:
                    self._restore(i)
        self.release.release_ready(self.shell, stop_before=stop + 1)

    def _restore(self, index: int) -> None:
        self._snapshots.restore(index)


def _wake(loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
    """From the job's thread: end the cell's wait (unless its loop is gone)."""
    with contextlib.suppress(RuntimeError):  # the event loop was closed meanwhile
        loop.call_soon_threadsafe(_set_done, future)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _statement_of(key: Hashable) -> int:
    """Statement index of a task key: ``i`` or ``("worker", i)``."""
    return key[1] if isinstance(key, tuple) else key  # type: ignore[return-value]
