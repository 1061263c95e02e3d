"""Run a fanned-out loop or comprehension: one engine task per element (when it pays).

The first iterations run in place, and the loop is only handed to the engine
when they are slow (:mod:`kernel_ext.cell.fanout_inline`): a loop of
microsecond iterations runs as the plain loop does, at its speed.

The analysis (:mod:`kernel_ext.analysis.fanout`) has proven the iterations
independent. Each iteration runs as a generated function, so that the body's
names are the iteration's own (closures and comprehensions inside it see
them), with each accumulator container replaced by a recorder. The results are
then applied in element order, which makes the statement's effect on the
namespace exactly that of the plain loop:

- accumulator calls (``out.append(v)``, ``out.add(v)``, ``out[k] = v``) are
  replayed on the real container, iteration by iteration;
- the loop's names are left bound as the last iteration (that bound them)
  left them, and comprehension results are built in order;
- when iteration k raises, iterations before it are applied, the names
  iteration k had bound when it raised are bound, and its exception is raised.
"""

from __future__ import annotations

import ast
import builtins
import contextvars
import functools
import itertools
import reprlib
import threading
import time
from collections.abc import Callable, Hashable, MutableMapping
from types import CodeType
from typing import Any

from kernel_ext.analysis import AccumulatorKind, FanOut, FanOutKind
from kernel_ext.cell import process_state, transport
from kernel_ext.cell.fanout_inline import InlineProbe, run_rest_plainly, store
from kernel_ext.cell.fanout_worker import IterationRaised, ShippedIteration
from kernel_ext.cell.output import TaskOutput, capturing_into, current_output
from kernel_ext.cell.process_state import ProcessState
from kernel_ext.cell.remote_errors import rebuild
from kernel_ext.cell.shipping import replay_events, stops_at_a_warning
from kernel_ext.cell.worker_run import RunInKernel
from kernel_ext.errors import JobCancelledError, WorkerDiedError
from kernel_ext.events import TaskState
from kernel_ext.graph import Call, Graph, Task
from kernel_ext.scheduler import Job, JobStatus, drop_task_notes

_ITEM = "__kernel_ext_item"
ITERATION_FUNCTION = _FUNCTION = "__kernel_ext_iteration"  # its frames are the cell's
_LOCALS = "__kernel_ext_locals"
_BUILTIN_LOCALS = "__kernel_ext_builtin_locals"


class Recorder:
    """Stands in for an accumulator container inside one iteration; records what it is fed."""

    def __init__(self, kind: AccumulatorKind) -> None:
        self.kind = kind
        self.calls: list[tuple[Any, ...]] = []

    def append(self, value: Any) -> None:
        self.calls.append((value,))

    def add(self, value: Any) -> None:
        self.calls.append((value,))

    def __setitem__(self, key: Any, value: Any) -> None:
        self.calls.append((key, value))

    @property
    def fed(self) -> int:
        return len(self.calls)

    def __reduce__(self) -> tuple[Any, tuple[str, list[tuple[Any, ...]]]]:
        # Sent back by every iteration run in a worker: the kind by name, since an enum's
        # own reduction calls its constructor (half the cost of the round trip).
        return _revive_recorder, (self.kind.name, self.calls)

    def replay(self, container: Any) -> None:
        for call in self.calls:
            if self.kind is AccumulatorKind.APPEND:
                container.append(*call)
            elif self.kind is AccumulatorKind.ADD:
                container.add(*call)
            else:
                container[call[0]] = call[1]


def _revive_recorder(kind: str, calls: list[tuple[Any, ...]]) -> Recorder:
    recorder = Recorder(AccumulatorKind[kind])
    recorder.calls = calls
    return recorder


class Feeder:
    """Stands in for an accumulator container in an iteration run in place: feeds the
    container at once, as the plain loop does, and counts the calls (for the probe)."""

    def __init__(self, container: Any) -> None:
        self._container = container
        self.fed = 0

    def append(self, value: Any) -> None:
        self.fed += 1
        self._container.append(value)

    def add(self, value: Any) -> None:
        self.fed += 1
        self._container.add(value)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.fed += 1
        self._container[key] = value


class IterationFailed(Exception):
    """Carries an iteration's exception, the names it had bound when it raised, and what
    it had fed its accumulators (the plain loop's containers keep that)."""

    def __init__(self, error: BaseException, bound: dict[str, Any],
                 recorders: list[Recorder]) -> None:
        super().__init__(error)
        self.error = error
        self.bound = bound
        self.recorders = recorders


def _iteration_function(fanout: FanOut, filename: str, flags: int) -> CodeType:
    """Compile ``def f(item, *accumulators): <target> = item; <body or element>``."""
    bind = ast.Assign(targets=[store(fanout.target)], value=ast.Name(_ITEM, ast.Load()))
    ast.copy_location(bind, fanout.target)
    if fanout.kind is FanOutKind.FOR_LOOP:
        collect = ast.Return(ast.Call(ast.Name(_LOCALS, ast.Load()), [], []))
        body: list[ast.stmt] = [bind, *fanout.body, collect]
    else:
        assert fanout.element is not None
        result = fanout.element
        if fanout.value is not None:
            result = ast.Tuple([fanout.element, fanout.value], ast.Load())
        keep = ast.Constant(True)
        if fanout.conditions:
            keep = ast.BoolOp(ast.And(), list(fanout.conditions)) if len(
                fanout.conditions) > 1 else fanout.conditions[0]
        body = [bind, ast.Return(ast.Tuple([keep, result], ast.Load()))]
    params = [ast.arg(_ITEM)] + [ast.arg(acc.name) for acc in fanout.accumulators]
    # `locals` comes in as a keyword-only default, so a user's own `locals` can't shadow it.
    func = ast.FunctionDef(
        name=_FUNCTION,
        args=ast.arguments(posonlyargs=[], args=params, kwonlyargs=[ast.arg(_LOCALS)],
                           kw_defaults=[ast.Name(_BUILTIN_LOCALS, ast.Load())], defaults=[]),
        body=body,
        decorator_list=[],
        returns=None,
    )
    ast.copy_location(func, fanout.target)
    module = ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[]))
    return compile(module, filename, "exec", flags=flags, dont_inherit=True)


def _run_iteration(
    function: _Literal, item: _Literal, kinds: tuple[AccumulatorKind, ...],
    keep: frozenset[str], is_loop: bool, output: TaskOutput | None,
) -> tuple[Any, list[Recorder]]:
    """One iteration: (names it bound | (keep?, value), recorders); raises IterationFailed."""
    recorders = [Recorder(kind) for kind in kinds]
    call, value = function.value, item.value
    try:
        if output is None:
            outcome = call(value, *recorders)
        else:
            with capturing_into(output):
                outcome = call(value, *recorders)
    except BaseException as exc:  # noqa: BLE001 - re-raised with the iteration's bound names
        raise IterationFailed(exc, locals_at_failure(exc, keep), recorders) from None
    if is_loop:
        outcome = {name: value for name, value in outcome.items() if name in keep}
    return outcome, recorders


def locals_at_failure(exc: BaseException, keep: frozenset[str]) -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == _FUNCTION:
            return {k: v for k, v in tb.tb_frame.f_locals.items() if k in keep}
        tb = tb.tb_next
    return {}


WATCH_SECONDS = {"processes": 0.02}  # an iteration this slow is worth a task (else 2 ms)
PROBE_SECONDS = 0.02  # iterations run in place this long before the rest runs plainly
# Worker processes run iterations in batches (kernel_ext.process_batches), so many short
# ones gain too: at the probe's end, the rest is fanned out if iterations take this long
# on average and the rest would take this long in place.
PROCESS_MEAN_SECONDS = 0.0005
PROCESS_REST_SECONDS = 0.25


def _worth_processes(mean: float, left: int) -> bool:
    return mean >= PROCESS_MEAN_SECONDS and mean * left >= PROCESS_REST_SECONDS


def run_fanout(
    fanout: FanOut,
    namespace: MutableMapping[str, Any],
    filename: str,
    *,
    flags: int = 0,
    backend: str = "threads",
    workers: int | None = None,
    context: contextvars.Context | None = None,
    job: Job | None = None,
    key: Hashable = None,
) -> None:
    """Execute the fanned-out statement in ``namespace``, with the plain statement's effect.

    ``context``: the statement's context variables, where the settings worker
    processes take along are read (else: this thread's). ``job`` and ``key``:
    the cell's job and this statement's task in it; the iterations, once fanned
    out, become a child job of it (:mod:`kernel_ext.child_jobs`): they run in
    its workers (``workers`` bounds them with everything else) and show in its
    views. Without ``job`` they run as a job of their own.

    The first iterations run in place (:mod:`kernel_ext.cell.fanout_inline`);
    the engine gets the rest only when they are slow enough to gain from it.
    """
    __tracebackhide__ = True  # noqa: F841
    code = _iteration_function(fanout, filename, flags)
    scope: dict[str, Any] = {_BUILTIN_LOCALS: builtins.locals}
    exec(code, namespace, scope)  # the function's globals are the user namespace
    function = scope[_FUNCTION]
    iterable = eval(compile(ast.Expression(fanout.iterable), filename, "eval", flags=flags,
                            dont_inherit=True), namespace)
    items = list(iterable)
    is_loop = fanout.kind is FanOutKind.FOR_LOOP
    keep = fanout.locals_left_behind
    values: list[Any] = []
    started: list[Job] = []
    # Read here: the watchdog thread that starts the workers has a context of its own.
    state = process_state.captured_in(context) if backend == "processes" else None

    def apply(outcome: Any, recorders: list[Recorder] | None) -> None:
        """Apply one finished iteration, as the plain loop's iteration would have left things
        (``recorders``: what it fed its containers; None: it fed them itself)."""
        if recorders is not None:
            _apply(fanout, namespace, recorders)
        if is_loop:
            namespace.update({name: value for name, value in outcome.items() if name in keep})
        elif outcome[0]:
            values.append(outcome[1])

    def run_in_place(k: int, feeders: list[Feeder]) -> None:
        try:
            outcome = function(items[k], *feeders)
        except BaseException as exc:
            namespace.update(locals_at_failure(exc, keep))
            raise
        apply(outcome, None)

    def new_feeders() -> list[Feeder]:
        return [Feeder(namespace[acc.name]) for acc in fanout.accumulators]

    here = threading.current_thread().name  # the worker this statement runs as

    def fan_out(first: int, spans: list[tuple[float, float]]) -> bool:
        """Iterations ``first``... as tasks; those before it ran here (``spans``), the one
        before it runs here now."""
        mean = sum(end - start for start, end in spans) / len(spans) if spans else None
        iterations = _start_job(fanout, function, items, first, backend, workers, state,
                                context, job, key, mean)
        if iterations is None:
            return False
        for k, (start, end) in enumerate(spans):
            iterations.record_in_place(k, start, end, worker=here)
        started.append(iterations)
        return True

    probe = InlineProbe(WATCH_SECONDS.get(backend, 0.002), PROBE_SECONDS, fan_out,
                        _worth_processes if backend == "processes" else None)
    try:
        first = probe.run(len(items), new_feeders, run_in_place)
    except BaseException as error:
        if started:  # the iteration running here raised: later ones never run in the plain loop
            started[0].record_in_place(len(probe.spans), probe.last_started, time.monotonic(),
                                       error=error, worker=here)
            started[0].cancel()
            drop_task_notes(error)  # the plain loop's own error, without the engine's note
        raise
    if started:
        start, end = probe.spans[first - 1]
        started[0].record_in_place(first - 1, start, end, worker=here)
        _finish_job(fanout, namespace, started[0], first, items, values,
                    lambda k: run_in_place(k, new_feeders()), apply)
    elif first < len(items):
        rest = run_rest_plainly(fanout, namespace, itertools.islice(items, first, None),
                                filename, flags)
        values.extend(rest or ())
    if not is_loop:
        namespace[fanout.assign_target] = _assemble(fanout, values, namespace)


def _apply(fanout: FanOut, namespace: MutableMapping[str, Any], recorders: list[Recorder]) -> None:
    for acc, recorder in zip(fanout.accumulators, recorders, strict=True):
        recorder.replay(namespace[acc.name])


def _in_a_copy_of(context: contextvars.Context, func: Any, *args: Any) -> Any:
    """An iteration on a pool thread sees the statement's context variables (decimal's
    context), as the plain loop's iterations do; a copy each, as threads run at once."""
    return context.copy().run(func, *args)


def _labelled(k: int, item: Any) -> dict[str, Any]:
    """Meta of iteration ``k``: a label made only when a view asks (``iteration 7: 'x'``)."""
    return {"label": functools.partial(_iteration_label, k, item)}


def _iteration_label(k: int, item: Any) -> str:
    return f"iteration {k}: {_shown(item)}"


def _shown(item: Any) -> str:
    if isinstance(item, str | bytes | int | float | complex | bool | tuple | list | dict | set
                  | frozenset | type(None)):
        return reprlib.repr(item)  # cut short, whatever the size
    return f"<{type(item).__name__}>"  # a repr of unknown cost (a DataFrame's) is not made


def _ran_in_place() -> None:
    raise AssertionError("an iteration run in place is never run by the engine")


def _start_job(fanout: FanOut, function: Any, items: list[Any], first: int, backend: str,
               workers: int | None, state: ProcessState | None,
               context: contextvars.Context | None = None, parent: Job | None = None,
               parent_key: Hashable = None, mean: float | None = None) -> Job | None:
    """Every iteration as an engine task (their output kept per iteration); those before
    ``first`` ran in place (reported with ``record_in_place``), the others are run.
    ``mean``: how long the iterations run in place took, on average.

    None when the iteration cannot be sent to worker processes (it then runs in place).
    """
    kinds = tuple(acc.kind for acc in fanout.accumulators)
    is_loop = fanout.kind is FanOutKind.FOR_LOOP
    keep = fanout.locals_left_behind
    keys = range(first, len(items))
    if parent is not None:
        group = parent.group_of(parent_key)  # the statement's row in the cell's views
    else:
        group = f"{fanout.kind.value} over {ast.unparse(fanout.iterable)}"
    placed = [Task(key=k, func=_ran_in_place, group=group, meta=_labelled(k, items[k]))
              for k in range(first)]
    if backend == "processes":
        try:
            packed = transport.dumps(function)
        except Exception:  # noqa: BLE001 - a function that cannot travel runs in place
            return None
        # One callable for all: a batch pickles it once, the engine scans only the element.
        shipped = ShippedIteration(packed, kinds, keep, is_loop, state)
        tasks = [Task(key=k, func=shipped, args=(Call(_pack, (_Literal(items[k]),)),),
                      group=group, meta=_labelled(k, items[k])) for k in keys]
    else:
        run = _run_iteration if context is None else functools.partial(
            _in_a_copy_of, context, _run_iteration)
        tasks = [Task(key=k, func=run,
                      args=(_Literal(function), _Literal(items[k]), kinds, keep, is_loop,
                            TaskOutput()),
                      group=group, meta=_labelled(k, items[k])) for k in keys]
    job = Job(Graph(placed + tasks), list(range(len(items))), backend=backend,
              num_workers=workers, keep_going=True, loop_order=True, name="fan-out",
              parent=parent, parent_key=parent_key, in_place=range(first))
    if mean is not None:
        job.expect_duration(group, mean)
    job.start()
    return job


def _pack(item: _Literal) -> bytes | None:
    """An element pickled for a worker (None: it cannot be, the worker says run it here)."""
    try:
        return transport.dumps(item.value)
    except Exception:  # noqa: BLE001 - any pickling failure
        return None


def _finish_job(fanout: FanOut, namespace: MutableMapping[str, Any], job: Job, first: int,
                items: list[Any], values: list[Any], run_in_place: Callable[[int], None],
                apply: Callable[[Any, list[Recorder] | None], None]) -> None:
    """Apply iterations ``first``... in order, as the plain loop would; raise the first error.

    A cancelled job applies nothing: its statement was stopped, and its thread may
    end long after its cell (a background job's, say) has settled and a later cell
    has bound the same names afresh.
    """
    job.wait()
    if job.status is JobStatus.CANCELLED:
        raise JobCancelledError(f"{job.name} was cancelled")
    states = job.states()
    failed = min((k for k, s in states.items() if s is TaskState.FAILED and k >= first),
                 default=None)
    done = len(states) if failed is None else failed
    results = job.results
    is_loop = fanout.kind is FanOutKind.FOR_LOOP

    parent_output = current_output()
    for k in range(first, done if failed is None else failed + 1):
        args = job.graph[k].args  # on threads, the last is the iteration's TaskOutput
        output = args[-1] if job.backend != "processes" else None
        if parent_output is not None and output is not None:
            for kind, payload in output.take():
                parent_output.add(kind, payload)

    if job.backend == "processes":
        _apply_shipped(fanout, namespace, [results[k] for k in range(first, done)], first,
                       run_in_place, apply)
        if failed is not None:  # its worker died, say: the iterations before it stand
            failure = dict(job.errors)[failed]
            drop_task_notes(failure)
            if isinstance(failure, WorkerDiedError):
                failure.in_statement(
                    f"iteration {failed} (element {_shown(items[failed])}) "
                    f"of {job.graph[failed].group!r}",
                    "The iterations before it were applied, as the plain loop would have "
                    "left them; a fresh worker process takes its place.")
            raise failure
        return
    bound: dict[str, Any] = {}
    for k in range(first, done):
        outcome, recorders = results[k]
        if is_loop:
            bound.update(outcome)
            _apply(fanout, namespace, recorders)
        elif outcome[0]:
            values.append(outcome[1])
    if failed is not None:
        failure = dict(job.errors)[failed]
        assert isinstance(failure, IterationFailed)
        _apply(fanout, namespace, failure.recorders)
        bound.update(failure.bound)
        namespace.update(bound)
        drop_task_notes(failure.error)
        raise failure.error
    namespace.update(bound)


def _apply_shipped(fanout: FanOut, namespace: MutableMapping[str, Any], outcomes: list[Any],
                   first: int, run_in_place: Callable[[int], None],
                   apply: Callable[[Any, list[Recorder] | None], None]) -> None:
    """Apply iterations run in worker processes, in order; run here those the workers
    could not run faithfully; show their output; raise the first error, as the loop would."""
    for k, outcome in enumerate(outcomes, start=first):
        if isinstance(outcome, RunInKernel) or stops_at_a_warning(outcome.events, namespace):
            run_in_place(k)
            continue
        replay_events(outcome.events, namespace)
        if isinstance(outcome, IterationRaised):
            bound, recorders = transport.loads(outcome.state)
            _apply(fanout, namespace, recorders)
            namespace.update(bound)
            raise rebuild(outcome.error)
        result, recorders = transport.loads(outcome.values)
        apply(result, recorders)


class _Literal:
    """Wraps a task argument so the engine does not look inside it for references."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _assemble(fanout: FanOut, values: list[Any], namespace: MutableMapping[str, Any]) -> Any:
    if fanout.kind is FanOutKind.LIST_COMP:
        return values
    if fanout.kind is FanOutKind.SET_COMP:
        return set(values)
    if fanout.kind is FanOutKind.DICT_COMP:
        return dict(values)
    assert fanout.wrapper is not None
    wrapper = namespace.get(fanout.wrapper, getattr(builtins, fanout.wrapper))
    return wrapper(values)

