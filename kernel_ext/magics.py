"""The ``%%parallel`` cell magic and its configurable defaults.

``Parallel`` is both the magics class and the traitlets configurable, so
``%config Parallel.workers = 8`` and ``c.Parallel.workers = 8`` in
``ipython_config.py`` set the defaults that command-line options override.
"""

from __future__ import annotations

import ast
import html
import sys
from dataclasses import dataclass
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, Union, observe, validate

from kernel_ext.analysis import analyze_cell
from kernel_ext.background.magics_jobs import jobs_line
from kernel_ext.background.routing import current_parent
from kernel_ext.cell.cell_text import plain_cell_text
from kernel_ext.cell.live import ViewOptions
from kernel_ext.cell.runner import CellRun, RunOptions
from kernel_ext.cell.shipping import explain_shipping
from kernel_ext.cell.tracebacks import mark_for_cell


@magics_class
class Parallel(Magics):
    """Run notebook cells as parallel task graphs."""

    job_registry: Any = None  # the kernel's JobRegistry, given by kernel_ext.background.install
    job_feed: Any = None  # the jobs the lab extension lists, given by kernel_ext.lab.install

    workers = Integer(
        None, allow_none=True, help="Worker threads or processes (default: the machine's cores)."
    ).tag(config=True)
    backend = Enum(
        ["threads", "processes"], "threads", help="Run statements on threads or processes."
    ).tag(config=True)

    progress = Bool(True, help="Show progress bars for cells that run a while.").tag(config=True)
    stream = Bool(False, help="Show the task stream plot.").tag(config=True)
    graph = Bool(False, help="Show the task graph, colored by task state.").tag(config=True)
    keep_jobs = Integer(
        100, help="Ended background jobs kept for %jobs and kernel_ext.jobs (the oldest go)."
    ).tag(config=True)
    worker_memory_limit = Union(
        [Unicode(), Integer(), Float()], default_value="auto", allow_none=True,
        help="Memory per worker process: '2GB', '25%', 'auto' (the machine's memory divided "
             "by its default workers) or None. A worker over it is stopped and replaced, and "
             "its statement fails with WorkerMemoryError."
    ).tag(config=True)
    live_views = Integer(
        20, help="Finished cells whose views stay live widgets; older ones become static "
                 "pictures and their widgets are closed, so a long session keeps none."
    ).tag(config=True)
    views_delay = Float(
        0.5, help="Seconds a cell runs before its progress bars appear."
    ).tag(config=True)

    @validate("worker_memory_limit")
    def _valid_memory_limit(self, proposal: Any) -> Any:
        from kernel_ext import memory_guard

        try:
            memory_guard.set_worker_memory_limit(proposal["value"])
        except ValueError as error:
            raise TraitError(str(error)) from None
        return proposal["value"]

    @observe("live_views")
    def _live_views_changed(self, change: Any) -> None:
        from kernel_ext.views.retire import retirement

        retirement.keep = max(0, change["new"])

    @magic_arguments()
    @argument("--workers", "-w", type=int, default=None, help="Number of workers for this cell.")
    @argument("--processes", action="store_true", help="Run statements on worker processes.")
    @argument("--threads", action="store_true", help="Run statements on worker threads.")
    @argument("--scheduler", metavar="ADDRESS", default=None,
              help="Run statements on the workers of the Dask cluster at ADDRESS "
                   "(tcp://host:8786, tls://...).")
    @argument("--cluster", choices=["local"], default=None,
              help="local: run statements on a distributed.LocalCluster started once for "
                   "this kernel.")
    @argument("--dask", action="store_true",
              help="Run statements on the cluster of the default distributed.Client.")
    @argument("--progress", action="store_true", default=None, help="Show progress bars.")
    @argument(
        "--no-progress", dest="progress", action="store_false", default=None,
        help="No progress bars.",
    )
    @argument("--stream", action="store_true", default=None, help="Show the task stream.")
    @argument("--graph", action="store_true", default=None, help="Show the task graph.")
    @argument(
        "--background", "--bg", action="store_true",
        help="Start the cell as a background job and return at once (see %%jobs).",
    )
    @argument(
        "--explain",
        action="store_true",
        help="Show the statements, their dependencies and the names behind each, without running.",
    )
    @line_cell_magic
    def parallel(self, line: str, cell: str | None = None) -> Any:
        """Run the cell's independent statements (and loop iterations) at once.

        The cell means what it means without the magic: the same names are
        left behind, output appears in statement order, and errors are those
        of the plain cell. Statements that the analysis cannot prove
        independent run in their original order.

        With ``--background`` the cell returns at once; later cells that need
        its names wait for them by themselves. As a line magic:
        ``%parallel jobs``, ``%parallel cancel N|all``, ``%parallel wait [N]``,
        ``%parallel status`` (the pool's threads, the worker processes and the
        kernel, with their resident memory).
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        if cell is None:
            return jobs_line(self.job_registry, line)
        prepared = self._prepare(line, cell, cancel_button=False)
        if not isinstance(prepared, _Foreground):
            return prepared
        return prepared.shown(prepared.run.run())

    async def parallel_awaiting(self, line: str, cell: str) -> Any:
        """The cell magic as an awaiting cell runs it (see :mod:`kernel_ext.cell.awaiting`).

        The kernel serves widget messages while this awaits, so the progress
        view's Cancel button stops the cell's job while the cell runs.
        """
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        # `%%parallel --workers $n`: IPython expands $name and {expr} in a cell magic's line
        # before calling it; the rewritten cell calls this method directly, so expand here.
        line = self.shell.var_expand(line, 1)
        prepared = self._prepare(line, cell, cancel_button=True)
        if not isinstance(prepared, _Foreground):
            return prepared
        return prepared.shown(await prepared.run.run_awaiting())

    def _prepare(self, line: str, cell: str, cancel_button: bool) -> Any:
        """Parse options and analyse the cell: a foreground run to wait for, or what to return."""
        __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
        args = parse_argstring(self.parallel, line)
        if args.processes and args.threads:
            raise UsageError("choose one of --processes and --threads, not both")
        workers = args.workers if args.workers is not None else self.workers
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be a positive number, not {workers}")
        backend = "processes" if args.processes else "threads" if args.threads else self.backend
        cluster = _cluster_from(args)
        if cluster is not None:
            if args.threads or args.processes:
                raise UsageError("--scheduler, --cluster and --dask run statements on a Dask "
                                 "cluster: leave out --threads and --processes")
            backend = "processes"  # the cluster's workers take the place of local processes

        shell = self.shell
        source = shell.transform_cell(cell)
        # Named as the plain cell's code would be: errors, warnings and %debug name its file.
        filename = shell.compile.cache(source, _running_cell_number(shell),
                                       raw_code=plain_cell_text(shell, cell))
        try:
            plan = analyze_cell(source, shell.user_ns, filename=filename)
        except SyntaxError as error:
            raise mark_for_cell(_as_ipython_reports(shell, source, filename, error),
                                filename) from None
        if args.explain:
            print(plan.explain())
            if backend == "processes":
                print(explain_shipping(plan.statements))
            return None
        if args.background:
            return self._start_background(plan, filename, backend, workers, args, source,
                                          cluster)
        if plan.needs_main_thread and not _awaits_at_top_level(plan):
            backend = "sync"  # in order, on the kernel's own thread (see --explain)
        views = _view_options_from(self, args, cancel_button)
        if cluster is not None:
            _show_dashboard_link(cluster, views)
        run = CellRun(
            plan,
            shell.user_ns,
            filename,
            RunOptions(backend=backend, workers=workers, views=views, cluster=cluster),
            shell=shell,
            compile_flags=shell.compile.flags,
        )
        self.last_run = run  # what it did, e.g. which statements ran in the kernel and why
        self._track(run, "foreground")
        return _Foreground(run, hide_value=DisplayHook.semicolon_at_end_of_expression(source))

    def _track(self, run: CellRun, kind: str, background: Any = None) -> None:
        """List the cell's job in the lab extension's jobs panel."""
        if self.job_feed is not None:
            from kernel_ext.lab import cell_id_of

            self.job_feed.track(
                run, kind=kind, number=getattr(background, "number", None),
                execution_count=_running_cell_number(self.shell),
                cell_id=cell_id_of(current_parent(self.shell)), background=background)

    @line_magic("jobs")
    def jobs_magic(self, line: str = "") -> Any:
        """Show the background jobs: state, progress, start time, duration (``%parallel jobs``)."""
        return jobs_line(self.job_registry, "jobs " + line)

    def _start_background(self, plan: Any, filename: str, backend: str, workers: int | None,
                          args: Any, source: str, cluster: Any = None) -> None:
        registry = self.job_registry
        registry.keep = max(0, self.keep_jobs)
        number = registry.next_number()
        views = _view_options_from(self, args, cancel_button=True)
        if cluster is not None:
            _show_dashboard_link(cluster, views)
        run = CellRun(
            plan,
            self.shell.user_ns,
            filename,
            RunOptions(backend=backend, workers=workers, views=None, name=f"job {number}",
                       cluster=cluster),
            shell=self.shell,
            compile_flags=self.shell.compile.flags,
            before_statement=lambda stmt: registry.check_before(stmt, plan.statements),
        )
        show_value = not DisplayHook.semicolon_at_end_of_expression(source)
        job = registry.start(number, run, current_parent(self.shell), show_value)
        self._track(run, "background", job)
        earlier = sorted(j.number for j in job.prerequisites)
        waits = ", ".join(f"job {n}" for n in earlier)
        print(f"job {number}" + (f" (starts after {waits})" if waits else ""))
        if views.progress or views.stream or views.graph:
            from kernel_ext.views import display_views

            display_views(run.job, progress=views.progress, stream=views.stream, graph=views.graph,
                          cancel_button=views.cancel_button)


@dataclass(frozen=True)
class _Foreground:
    """A foreground cell ready to run, and whether its final value is shown."""

    run: CellRun
    hide_value: bool  # a trailing ';' hides the value, as in a plain cell

    def shown(self, value: Any) -> Any:
        return None if self.hide_value else value


def _awaits_at_top_level(plan: Any) -> bool:
    """A top-level `await` runs on an event loop of a worker thread's own (the kernel's
    is busy awaiting the cell): such a cell keeps its threads."""
    todo: list[ast.AST] = [stmt.node for stmt in plan.statements]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Await | ast.AsyncFor | ast.AsyncWith):
            return True
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
                          | ast.ClassDef):
            todo.extend(ast.iter_child_nodes(node))
    return False


def _as_ipython_reports(shell: Any, source: str, filename: str,
                        error: SyntaxError) -> SyntaxError:
    """The syntax error as IPython's own compiler words it for a plain cell.

    IPython compiles with flags that report, e.g., 'incomplete input' where
    ``ast.parse`` says "'(' was never closed"; only a failing cell pays for
    the second parse.
    """
    try:
        shell.compile.ast_parse(source, filename=filename)
    except SyntaxError as ipython_error:
        return ipython_error
    return error


def _cluster_from(args: Any) -> Any:
    """The ``distributed.Client`` the cell runs on (``--scheduler``, ``--cluster local``,
    ``--dask``), or None."""
    chosen = [flag for flag in ("scheduler", "cluster", "dask") if getattr(args, flag)]
    if not chosen:
        return None
    if len(chosen) > 1:
        raise UsageError("choose one of --scheduler, --cluster and --dask")
    from kernel_ext.cluster_run import connect, local_cluster_client

    try:
        client = local_cluster_client() if args.cluster else connect(address=args.scheduler)
    except (ConnectionError, ValueError, ImportError) as exc:
        raise UsageError(str(exc)) from None
    return client


def _show_dashboard_link(client: Any, views: ViewOptions) -> None:
    """With the cell's live views: a link to the cluster's own dashboard (a view too: cells
    without views leave only what the plain cell leaves)."""
    link = getattr(client, "dashboard_link", None)
    if link and (views.progress or views.stream or views.graph):
        from IPython.display import HTML, display

        display(HTML(f'Dask cluster {html.escape(str(client.scheduler.address))}: '
                     f'<a href="{html.escape(link)}" target="_blank">dashboard</a>'))


def _view_options_from(magics: Parallel, args: Any, cancel_button: bool) -> ViewOptions:
    def pick(flag: bool | None, default: bool) -> bool:
        return default if flag is None else flag

    return ViewOptions(
        progress=pick(args.progress, magics.progress),
        stream=pick(args.stream, magics.stream),
        graph=pick(args.graph, magics.graph),
        delay=0.0 if args.progress else magics.views_delay,
        cancel_button=cancel_button,
    )


def _running_cell_number(shell: Any) -> int:
    """The ``n`` of ``In[n]`` for the cell now running.

    IPython bumps ``shell.execution_count`` *before* it runs a cell that is
    stored in history, so the running cell's number is the one its own code
    was cached under: find the calling cell's frame among the cached names.
    """
    numbers = getattr(shell.compile, "_filename_map", None) or {}
    frame = sys._getframe(1)
    while frame is not None:
        number = numbers.get(frame.f_code.co_filename)
        if number is not None:
            return int(number)
        frame = frame.f_back
    return int(shell.execution_count)
