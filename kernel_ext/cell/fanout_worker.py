"""One fanned-out iteration in a worker process, checked like a shipped statement.

An iteration sent to a worker brings back copies of what it fed its
accumulators and of the names it bound. Where the plain loop would have put
the iteration's own element (or an object reached from it or from a global)
into the container, copies would break the link; where the iteration changed
its element in place, the kernel's element would not change. In those cases,
and when the worker cannot load the iteration or send its result back, the
worker answers :class:`~kernel_ext.cell.worker_run.RunInKernel` and the kernel
runs that iteration itself, in order (iterations only feed recorders and bind
their own names, so the worker's run left nothing behind). Output, warnings
and errors come back as data, as for shipped statements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kernel_ext.analysis import AccumulatorKind
from kernel_ext.cell import transport
from kernel_ext.cell.iteration_reuse import load_iteration
from kernel_ext.cell.process_state import ProcessState, applied
from kernel_ext.cell.remote_errors import RemoteError, describe
from kernel_ext.cell.sharing import shared_with_inputs
from kernel_ext.cell.worker_run import Bound, Event, RunInKernel, Watch, capture_held, capturing


@dataclass
class IterationRaised:
    """The iteration raised: its error, and (pickled) the names it had bound and what it fed."""

    error: RemoteError
    state: bytes
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class ShippedIteration:
    """One callable for all iterations of a fan-out on processes: the kernel binds what
    they share once, a batch pickles it once, and each call brings its element."""

    function_blob: bytes
    kinds: tuple[AccumulatorKind, ...]
    keep: frozenset[str]
    is_loop: bool
    state: ProcessState | None

    def __call__(self, item_blob: bytes) -> Bound | IterationRaised | RunInKernel:
        return run_iteration_shipped(self.function_blob, self.kinds, self.keep,
                                     self.is_loop, self.state, item_blob)

    # A worker enters it once around a batch of iterations (see kernel_ext.process_pool).
    batch_context = staticmethod(capture_held)


def run_iteration_shipped(
    function_blob: bytes, kinds: tuple[AccumulatorKind, ...], keep: frozenset[str],
    is_loop: bool, state: ProcessState | None, item_blob: bytes,
) -> Bound | IterationRaised | RunInKernel:
    """In the worker: one iteration on a copy of its element; see the module docstring.
    (The element comes last: the kernel binds the rest once for all iterations.)

    ``Bound.values`` is the pickled (names bound | (keep?, value), recorders).
    """
    from kernel_ext.cell.fanout_exec import Recorder, locals_at_failure

    try:
        function = load_iteration(function_blob)  # afresh, unless that changes nothing
        item = transport.loads(item_blob)
    except Exception as exc:  # noqa: BLE001 - any failure to load: run it in the kernel
        return RunInKernel(f"a worker process cannot load the iteration ({exc})")
    recorders = [Recorder(kind) for kind in kinds]
    events: list[Event] = []
    error: BaseException | None = None
    outcome: Any = None
    watch = Watch(item, item_blob, state, function)
    with capturing(events), applied(state):
        try:
            outcome = function(item, *recorders)
        except BaseException as exc:  # noqa: BLE001 - sent back, raised by the kernel
            error = exc
    reason = watch.reason_to_run_in_kernel(error)
    if reason is not None:
        return RunInKernel(reason)
    if error is not None:
        bound = locals_at_failure(error, keep)
        try:
            packed = transport.dumps((bound, recorders))
        except Exception:  # noqa: BLE001 - let the kernel run it and raise it itself
            return RunInKernel("the failing iteration's names cannot be sent back")
        return IterationRaised(describe(error, function.__code__.co_filename), packed, events)
    if is_loop:
        outcome = {name: value for name, value in outcome.items() if name in keep}
    produced = {"the iteration's result": (outcome, [r.calls for r in recorders])}
    referenced = {k: v for k, v in function.__globals__.items() if not k.startswith("__")}
    inputs = {"its element": item, **referenced}
    reason = shared_with_inputs(produced, inputs)
    if reason is not None:
        return RunInKernel(reason)
    try:
        return Bound(transport.dumps((outcome, recorders), result=True), events)
    except transport.DetachedFunction as exc:
        return RunInKernel(f"the iteration's result holds {exc}, a function defined in the "
                           "notebook")
    except Exception as exc:  # noqa: BLE001 - a result that cannot travel
        return RunInKernel(f"the iteration's result cannot be sent back ({exc})")
