"""A job's graph run on a dask.distributed cluster (the ``dask`` backend).

kernel_ext never builds a cluster of its own: a job on the ``dask`` backend
hands its whole graph to an existing Dask scheduler in one ``client.get``
(so the cluster schedules it as it schedules Dask's own graphs: data stays on
the workers, a worker that dies has its tasks rerun elsewhere), and the job
follows what the scheduler reports (:mod:`kernel_ext.cluster_events`): a task
is running when the scheduler assigns it to a worker, finished or failed when
the worker says so, with the worker's own start and stop. Only the outputs'
values come back to the kernel. So progress, the task stream (a lane per
Dask worker thread) and the graph show what the cluster did.

Each task is sent as a task-spec ``Task`` whose dependencies are the keys of
the tasks it reads; its key is ``("<group>-kx<job token>", n)``, unique to the
job (two jobs never share a key on the cluster, where a key names a value),
and grouped under the task's group in Dask's own dashboard.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Hashable
from typing import Any

from kernel_ext.cluster_events import MARKER, PLUGIN_NAME, TOPIC, TaskEventsPlugin
from kernel_ext.events import FINAL_STATES, TaskState
from kernel_ext.graph import Ref, needs_resolving, resolve

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before saying it cannot be reached

_clients: dict[str, Any] = {}  # address -> Client, one per scheduler for the kernel's life
_runs: weakref.WeakValueDictionary[str, ClusterRun] = weakref.WeakValueDictionary()
_prepared: weakref.WeakSet[Any] = weakref.WeakSet()  # clients with the plugin and topic set
_prepare_lock = threading.Lock()


def connect(address: str | None = None, client: Any = None,
            timeout: float = CONNECT_TIMEOUT) -> Any:
    """The ``distributed.Client`` a job runs on: ``client`` if given, else one (kept for the
    kernel's life) to the scheduler at ``address``, else the default client."""
    try:
        from kernel_ext.cluster_slots import isolate_dask_randomness

        isolate_dask_randomness()  # the client's draws: not on the user's generator
    except ImportError:
        pass  # no distributed: said below
    if client is not None:
        return client
    try:
        from distributed import Client, default_client
    except ImportError:
        raise ImportError("backend='dask' runs on dask.distributed; install it: "
                          "pip install 'kernel_ext[dask]'") from None
    if address is None:
        try:
            return default_client()
        except ValueError:
            raise ValueError(
                "backend='dask' needs a Dask cluster: pass address='tcp://host:8786' (what "
                "`dask scheduler` prints) or client=<a distributed.Client>, or create a "
                "distributed.Client first (it becomes the default)") from None
    known = _clients.get(address)
    if known is not None and known.status == "running":
        return known
    try:
        new = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"could not reach a Dask scheduler at {address} within {timeout:g} s ({exc}). "
            "Check the address and port that `dask scheduler` printed, and that this "
            "machine can reach it.") from None
    if not _clients:
        atexit.register(close_clients)  # at the kernel's shutdown
    _clients[address] = new
    return new


_local: list[Any] = []  # [LocalCluster, Client] once --cluster local started them


def local_cluster_client() -> Any:
    """A client of this kernel's ``distributed.LocalCluster``, started on first use (sized
    to the machine by Dask) and closed at the kernel's shutdown."""
    if _local and _local[1].status == "running":
        return _local[1]
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError("--cluster local runs on dask.distributed; install it: "
                          "pip install 'kernel_ext[dask]'") from None
    main = sys.modules.get("__main__")
    if main is not None and not hasattr(main, "__spec__"):  # cleared by %reset: spawning
        main.__spec__ = None  # worker processes reads it (None: an interactive session)
    from kernel_ext.cluster_slots import isolate_dask_randomness

    isolate_dask_randomness()  # its scheduler runs in the kernel: not on the user's generator
    cluster = LocalCluster(dashboard_address="127.0.0.1:0")
    client = Client(cluster, set_as_default=False)
    if not _local:
        atexit.register(_close_local)
    _local[:] = [cluster, client]
    return client


def local_worker_pids() -> list[int]:
    """The pids of the worker processes of this kernel's ``--cluster local``, if running.

    They exit with the kernel: each worker's nanny runs in the kernel, and a worker
    whose nanny's pipe closes stops itself (dask.distributed's own doing, measured).
    """
    if not _local or _local[1].status != "running":
        return []
    pids = (getattr(worker, "pid", None) for worker in list(_local[0].workers.values()))
    return sorted(pid for pid in pids if isinstance(pid, int))


def _close_local() -> None:
    if _local:
        cluster, client = _local
        _local.clear()
        with contextlib.suppress(Exception):
            client.close(timeout=2)
            cluster.close(timeout=5)


def close_clients() -> None:
    """Close the clients :func:`connect` opened (at kernel shutdown)."""
    while _clients:
        _, client = _clients.popitem()
        with contextlib.suppress(Exception):  # a cluster already gone
            client.close(timeout=2)


def _prepare(client: Any) -> None:
    """Once per client: the event plugin in its scheduler, and our subscription."""
    with _prepare_lock:
        if client in _prepared:
            return
        client.register_plugin(TaskEventsPlugin(), name=PLUGIN_NAME)
        client.subscribe_topic(TOPIC, _dispatch)
        _prepared.add(client)


def _dispatch(event: Any) -> None:
    """On the client's event loop: hand each task event to the run it belongs to."""
    _, message = event
    for item in message.get("events", ()):
        key = item["key"]
        key = tuple(key) if isinstance(key, list) else key
        name = key[0] if isinstance(key, tuple) else str(key)
        run = _runs.get(name.rsplit(MARKER, 1)[-1])
        if run is not None:
            run.apply(key, item)


def _run_remote(func: Any, arguments: _Arguments, values: list[Any]) -> Any:
    """On a worker: one engine task, its references filled from its dependencies' values
    (``values``: in the order of ``arguments.needs``)."""
    if not arguments.resolve:
        return func(*arguments.args, **arguments.kwargs)
    lookup = dict(zip(arguments.needs, values, strict=True)).__getitem__
    return func(*resolve(arguments.args, lookup), **resolve(arguments.kwargs, lookup))


class _Arguments:
    """A task's arguments, opaque to Dask (it must not look for its keys inside them), and
    the engine keys of its dependencies."""

    __slots__ = ("args", "kwargs", "needs", "resolve", "token")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any],
                 needs: tuple[Hashable, ...], resolve: bool, token: str) -> None:
        self.args, self.kwargs, self.needs, self.resolve = args, kwargs, needs, resolve
        self.token = token

    def __reduce__(self) -> Any:
        return _Arguments, (self.args, self.kwargs, self.needs, self.resolve, self.token)

    def __dask_tokenize__(self) -> str:
        """Dask tokenizes every task it is given; the task's unique key says it all (else
        Dask would pickle the arguments to hash them: a tenth of a cluster job's time)."""
        return self.token


def _cancel(client: Any, futures: list[Any]) -> None:
    with contextlib.suppress(Exception):  # a cluster already gone
        client.cancel(futures, force=True)


def _error_of(event: dict[str, Any], key: Hashable) -> BaseException:
    """The exception a task raised on a worker, from the scheduler's event."""
    blob = event.get("exception")
    if blob is not None:
        try:
            from distributed.protocol import deserialize, pickle

            error = deserialize(blob["header"], blob["frames"])
            if isinstance(error, bytes | bytearray):  # workers send the exception pickled
                error = pickle.loads(error)
            if isinstance(error, BaseException):
                return error
        except Exception:  # noqa: BLE001, S110 - described by its text below
            pass
    return RuntimeError(f"task {key!r} failed on the Dask cluster: {event.get('error', '')}")


_PLAIN = (int, float, complex, str, bytes, bool, type(None))


def _plain_literal(value: Any) -> bool:
    """A value Dask passes through untouched (containers it would look into are not)."""
    return isinstance(value, _PLAIN)


def _group_word(group: str) -> str:
    """A task's group as the first word of a Dask key (what its dashboard groups by)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", group).strip("_")[:40] or "task"


class ClusterRun:
    """Runs one job's graph on the cluster of ``client`` and records what its scheduler says."""

    def __init__(self, job: Any, client: Any) -> None:
        self.job = job
        self.client = client
        self.token = uuid.uuid4().hex[:16]
        self._index: dict[Hashable, int] = {}
        self._dask_keys: list[Any] = []
        self._futures: list[Any] = []
        self._ended: dict[int, tuple[str, float, float]] = {}  # outputs: where/when they ran
        self._values: dict[int, tuple[Any, BaseException | None]] = {}  # outputs' outcomes
        self._lanes: dict[tuple[str, Any], str] = {}
        self._offset = time.time() - time.monotonic()  # the workers' wall clock -> monotonic

    def start(self) -> None:
        """Send the whole graph (called once the job's states are set, without its lock)."""
        from dask.task_spec import List, Task, TaskRef

        job = self.job
        local = [key for key, task in zip(job.keys, job._tasks, strict=True) if task.local]
        if local:
            raise ValueError(
                f"tasks marked local (such as {local[0]!r}) cannot run on the dask backend; "
                "run this graph on backend='threads' or 'processes'")
        _prepare(self.client)
        _runs[self.token] = self
        for i in range(len(job.keys)):
            dask_key = (f"{_group_word(job._groups[i])}{MARKER}{self.token}", i)
            self._dask_keys.append(dask_key)
            self._index[dask_key] = i
        graph = {}
        dependencies = job.graph.dependencies
        for i, (key, task) in enumerate(zip(job.keys, job._tasks, strict=True)):
            direct = self._as_dask_task(i, task, Task, TaskRef)
            if direct is not None:  # as Dask would send it: no wrapper to pickle and hash
                graph[self._dask_keys[i]] = direct
                continue
            needs = dependencies[key]
            values = List(*(TaskRef(self._dask_keys[job._index[dep]]) for dep in needs))
            arguments = _Arguments(task.args, dict(task.kwargs or {}), needs,
                                   job._needs_resolving[i], f"{self.token}-{i}")
            graph[self._dask_keys[i]] = Task(self._dask_keys[i], _run_remote, task.func,
                                             arguments, values)
        outputs = [i for i in range(len(job.keys)) if job._is_output[i]]
        self._futures = self.client.get(graph, [self._dask_keys[i] for i in outputs],
                                        sync=False, retries=job.retries)
        for i, future in zip(outputs, self._futures, strict=True):
            future.add_done_callback(lambda f, i=i: self._output_done(i, f))

    def _as_dask_task(self, i: int, task: Any, task_type: Any, ref_type: Any) -> Any:
        """Task ``i`` as a plain Dask task when its arguments are literals that hold no
        references and references at the top level only (a graph dict's usual task);
        else None (it is sent wrapped: :func:`_run_remote`)."""
        args: list[Any] = []
        for arg in task.args:
            if type(arg) is Ref:
                args.append(ref_type(self._dask_keys[self.job._index[arg.key]]))
            elif needs_resolving(arg) or not _plain_literal(arg):
                return None
            else:
                args.append(arg)
        if task.kwargs and (needs_resolving(task.kwargs) or not all(
                _plain_literal(v) for v in task.kwargs.values())):
            return None
        return task_type(self._dask_keys[i], task.func, *args, **dict(task.kwargs or {}))

    def cancel(self) -> None:
        """Release the job's tasks on the cluster (running ones finish there, unheard)."""
        _runs.pop(self.token, None)
        futures, self._futures = self._futures, []
        if futures:  # not on the client's event loop (the failure may be reported there)
            threading.Thread(target=_cancel, args=(self.client, futures), daemon=True,
                             name="kernel_ext-cluster-cancel").start()

    # --------------------------------------------------------------- from the cluster

    def apply(self, dask_key: Any, event: dict[str, Any]) -> None:
        """One scheduler event about one of this job's tasks."""
        i = self._index.get(dask_key)
        job = self.job
        if i is None:
            return
        with job._lock:
            if job._done.is_set() or job._states[i] in FINAL_STATES:
                return
            state = event["state"]
            worker = self._lane(event)
            if state == "processing":
                if job._states[i] is not TaskState.RUNNING:
                    job._set_state(i, TaskState.RUNNING)
                    job._attempts[i] += 1
                    if TaskState.RUNNING in job._events.wanted:
                        job._emit(i, TaskState.RUNNING, worker, time.monotonic())
                return
            start = event.get("start", time.time()) - self._offset
            stop = event.get("stop", time.time()) - self._offset
            if state == "memory":
                if job._is_output[i]:  # finished once its value is here too
                    self._ended[i] = (worker, start, stop)
                    self._settle_output_locked(i)
                else:
                    self._running(i)
                    job._task_finished(i, None, worker, start, stop)
            elif state == "erred" and not job._is_output[i]:
                self._running(i)
                self._failed(i, _error_of(event, job.keys[i]), worker, start, stop)
            elif state == "erred":
                self._ended[i] = (worker, start, stop)
                self._settle_output_locked(i)
            self._after_record_locked()

    def _output_done(self, i: int, future: Any) -> None:
        """A separate thread: an output's value (or error) arrived."""
        try:
            outcome: tuple[Any, BaseException | None] = (future.result(), None)
        except BaseException as exc:  # noqa: BLE001 - recorded as the task's failure
            outcome = (None, exc)
        with self.job._lock:
            self._values[i] = outcome
            self._settle_output_locked(i)
            self._after_record_locked()

    def _settle_output_locked(self, i: int) -> None:
        """Record an output once both its run (the scheduler) and its outcome (its value
        or error) are known. An output that failed because a task it needs failed never
        runs: the engine skips or cancels it when that task's failure is recorded."""
        job = self.job
        if i not in self._ended or i not in self._values or job._states[i] in FINAL_STATES:
            return
        value, error = self._values.pop(i)
        worker, start, stop = self._ended.pop(i)
        self._running(i)
        if error is None:
            job._task_finished(i, value, worker, start, stop)
        else:
            self._failed(i, error, worker, start, stop)

    def _failed(self, i: int, error: BaseException, worker: str, start: float,
                stop: float) -> None:
        job = self.job
        job._attempts[i] = max(job._attempts[i], job.retries + 1)  # the cluster retried it
        job._task_failed(i, error, worker, start, stop)

    def _running(self, i: int) -> None:
        job = self.job
        if job._states[i] is not TaskState.RUNNING:  # its processing event came in the batch
            job._set_state(i, TaskState.RUNNING)
        job._attempts[i] = max(job._attempts[i], 1)

    def _after_record_locked(self) -> None:
        job = self.job
        if job._stopping and not job._done.is_set():  # a failure stops the job
            self.cancel()
            job._cancel_unfinished_locked(include_running=True)
            job._finish_locked()
        elif not job._unresolved:
            _runs.pop(self.token, None)
            self._futures = []  # the values are here: the cluster may let go of them
            job._finish_locked()

    def _lane(self, event: dict[str, Any]) -> str:
        """``<worker address> #<n>``: one lane per thread of each Dask worker."""
        address = str(event.get("worker") or "cluster").removeprefix("tcp://")
        thread = event.get("thread")
        if thread is None:
            return address
        lane = self._lanes.get((address, thread))
        if lane is None:
            taken = sum(1 for a, _ in self._lanes if a == address)
            lane = self._lanes[(address, thread)] = f"{address} #{taken}"
        return lane
