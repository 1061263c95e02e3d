"""The worker's half of a shipped statement: run it, and say whether its result may come back.

A shipped statement only binds names, so the kernel may run it itself
instead at no risk: the worker's copies are simply dropped. The worker
answers :class:`RunInKernel` whenever copies would not mean what the plain
cell means:

- it could not load its inputs (an object pickled by reference to the
  notebook, such as a ``functools.lru_cache`` function);
- the statement changed an input in place (its inputs, pickled again after
  the run, differ from the bytes received; a difference is confirmed by
  pickling a fresh load of those bytes, since pickling is not always
  byte-for-byte repeatable across processes);
- a value it bound shares an object or array memory with an input
  (:mod:`kernel_ext.cell.sharing`), or holds a function defined in the
  notebook, whose globals would come back detached from the kernel's;
- it changed the state of a module of the user's (:mod:`.user_modules`), or drew
  from a global random generator;
- it raised an error that the worker's own process may cause where the kernel
  would not (``AttributeError`` after the kernel patched a class, ``NameError``
  for a name read from a string, ``ImportError``, ``KeyError``, ``OSError``):
  the kernel's run raises what the plain cell raises (or nothing);
- what it bound, or the error it raised, cannot be pickled.

Otherwise it sends back the bound values (pickled), everything the statement
printed and every warning it raised, in order, for the kernel to show in the
statement's place; or the error it raised, described by
:mod:`kernel_ext.cell.remote_errors`.
"""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from typing import Any

from kernel_ext.cell import transport
from kernel_ext.cell.process_state import ProcessState, applied, drew_random
from kernel_ext.cell.remote_errors import RemoteError, describe
from kernel_ext.cell.sharing import ATOMS, shared_with_inputs
from kernel_ext.cell.user_modules import reached_user_modules, state_of
from kernel_ext.cell.worker_capture import SHARED

# Errors the worker's own process may cause where the kernel would not (a class the
# kernel patched, a name read from a string, a module only the kernel can import):
# the kernel runs the statement to raise (or not) what the plain cell raises.
_MAYBE_THE_WORKERS = (AttributeError, NameError, ImportError, KeyError, OSError)


@dataclass(frozen=True)
class WarningRecord:
    message: Warning | str
    category: type[Warning]
    filename: str
    lineno: int


# ('stdout' | 'stderr', text) or ('warning', WarningRecord), in the order they happened
Event = tuple[str, Any]


@dataclass
class Bound:
    """The statement ran in the worker; ``values`` is the pickled dict of names it bound."""

    values: bytes
    events: list[Event] = field(default_factory=list)


@dataclass
class Raised:
    error: RemoteError
    events: list[Event] = field(default_factory=list)


@dataclass
class RunInKernel:
    """The statement must run in the kernel; ``reason`` says why, for the user."""

    reason: str


Outcome = Bound | Raised | RunInKernel


@dataclass(frozen=True)
class Shipment:
    """What the kernel sends: the statement's code and its pickled inputs."""

    code: bytes  # marshal'd code object (keeps the cell's file name)
    inputs: bytes  # transport-pickled dict of the names it reads
    outputs: tuple[str, ...]
    state: ProcessState  # the kernel's working directory, import path, settings...


def run_shipped(shipment: Shipment) -> Outcome:
    """In the worker: run the statement on copies of its inputs; see the module docstring."""
    try:
        inputs = transport.loads(shipment.inputs)
    except Exception as exc:  # noqa: BLE001 - any failure to load means: run it in the kernel
        return RunInKernel(f"a worker process cannot load its inputs ({exc})")
    code = marshal.loads(shipment.code)
    namespace = dict(inputs)
    events: list[Event] = []
    error: BaseException | None = None
    watch = Watch(inputs, shipment.inputs, shipment.state)
    with capturing(events), applied(shipment.state):
        try:
            exec(code, namespace)
        except BaseException as exc:  # noqa: BLE001 - sent back, raised by the kernel
            error = exc
    reason = watch.reason_to_run_in_kernel(error)
    if reason is not None:
        return RunInKernel(reason)
    if error is not None:
        try:
            transport.dumps(error)
        except Exception:  # noqa: BLE001 - the kernel raises the very error itself
            return RunInKernel("the error it raised cannot be sent back from a worker process")
        return Raised(describe(error, code.co_filename), events)
    bound = {name: namespace[name] for name in shipment.outputs if name in namespace}
    reason = shared_with_inputs(bound, inputs)
    if reason is not None:
        return RunInKernel(reason)
    try:
        values = transport.dumps(bound, result=True)
    except transport.DetachedFunction as exc:
        return RunInKernel(f"what it binds holds {exc}, a function defined in the notebook, "
                           "which would come back detached from the kernel's names")
    except Exception as exc:  # noqa: BLE001 - a result that cannot travel
        return RunInKernel(f"what it binds cannot be sent back from a worker process ({exc})")
    return Bound(values, events)


class Watch:
    """What a run in the worker may have done that copies cannot carry back."""

    def __init__(self, inputs: Any, received: bytes, state: ProcessState | None,
                 code: Any = None) -> None:
        """``inputs`` as loaded from ``received``; ``code``: a function run on them."""
        self._inputs, self._received, self._state = inputs, received, state
        if code is not None and type(inputs) in ATOMS:
            self._modules = _modules_of_function(code)  # an iteration over numbers, say
        else:
            values = list(inputs.values()) if isinstance(inputs, dict) else [inputs]
            self._modules = reached_user_modules(
                [*values, code] if code is not None else values)
        self._modules_before = state_of(self._modules) if self._modules else []

    def reason_to_run_in_kernel(self, error: BaseException | None) -> str | None:
        """Why the kernel must run the code itself after this run, or None."""
        if changed(self._inputs, self._received):
            return "it changed one of its inputs in place"
        if self._modules and state_of(self._modules) != self._modules_before:
            return "it changed the state of a module of yours, which the worker imported anew"
        if drew_random(self._state):
            return "it drew from a global random generator, which only the kernel's run advances"
        if isinstance(error, _MAYBE_THE_WORKERS):
            return (f"it raised {type(error).__name__} in a worker process, whose modules, "
                    "files and names may differ from the kernel's")
        return None


# The function last asked about by an iteration, and the user modules it reaches.
_last_function_modules: tuple[Any, list[Any]] | None = None


def _modules_of_function(function: Any) -> list[Any]:
    """The user modules ``function`` reaches, worked out once for the function a batch
    reuses (:mod:`kernel_ext.cell.iteration_reuse` reuses it only while every binding it
    reaches is the very object it was when loaded, so the answer cannot change)."""
    global _last_function_modules
    last = _last_function_modules
    if last is not None and last[0] is function:
        return last[1]
    modules = reached_user_modules([function])
    _last_function_modules = (function, modules)  # held: its identity stays its own
    return modules


def changed(value: Any, received: bytes) -> bool:
    """Whether ``value``, loaded from ``received``, was changed in place since."""
    if type(value) in ATOMS:
        return False  # a number or a string cannot change (a loop's usual element)
    try:
        after = transport.dumps(value)
        return after != received and after != transport.dumps(transport.loads(received))
    except Exception:  # noqa: BLE001 - an input that no longer pickles has changed
        return True


def capturing(events: list[Event]) -> Any:
    """Print and warn into ``events``; every warning is kept, the kernel applies its filters.

    Shared by statements that run at once on threads of one process (a Dask cluster of
    threads): see :mod:`kernel_ext.cell.worker_capture`."""
    return SHARED.into(events, _record_warning)


def capture_held() -> Any:
    """Keep :func:`capturing`'s swap in place across a batch of runs in a worker process
    (set as a shipped function's ``batch_context``: see :mod:`kernel_ext.process_pool`)."""
    return SHARED.held()


def _record_warning(events: list[Event], message: Warning | str, category: type[Warning],
                    filename: str, lineno: int) -> None:
    events.append(("warning", WarningRecord(message, category, filename, lineno)))
