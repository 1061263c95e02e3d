"""Worker slots on a dask.distributed cluster, for ``%%parallel --scheduler`` cells.

A ``%%parallel`` cell on a cluster means what it means on ``--processes``:
inputs travel to a worker as copies, results come back, and statements that
change objects in place or have effects run in the kernel (the cell's
shipping rules, :mod:`kernel_ext.cell.shipping`, decide). So a cell on a
cluster is a cell on the processes backend whose slots are the cluster's
worker threads instead of local processes: :class:`ClusterSlot` has
:class:`~kernel_ext.process_pool.ProcessSlot`'s interface and submits each
call (or batch of calls) to the cluster with ``client.submit``.

Where a call ran is what the worker reports (its address and thread, its own
start and stop); a worker that dies mid-task has the call rerun elsewhere by
Dask, as Dask survives it, and only a call that keeps killing workers fails
(:class:`~kernel_ext.errors.WorkerDiedError`). A cancel cancels the futures.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kernel_ext.errors import WorkerDiedError
from kernel_ext.process_pool import (
    CancelledInWorker,
    SentBatch,
    SlotPool,
    _Failure,
    _run_batch_in_worker,
    _run_in_worker,
    batch_outcomes,
)


def _where() -> str:
    """In a Dask worker: ``<address> #<thread>``, the lane the views draw the call on."""
    from distributed import get_worker

    address = get_worker().address.removeprefix("tcp://").removeprefix("tls://")
    return f"{address} #{threading.get_ident() % 10_000}"


_isolated = False


def isolate_dask_randomness() -> None:
    """Give Dask's own draws a generator of their own, in this process.

    Dask draws from Python's global ``random`` generator for its own purposes
    (which items of a collection to sample for its size, which peer to gather
    a value from, which bytes to sample before compressing). In a kernel
    hosting a LocalCluster's scheduler those draws would move the user's
    generator (``random.random()`` in the next cell would differ from the plain
    notebook's); in a worker they would look as if the statement had drawn, and
    send it back to run in the kernel.
    """
    global _isolated
    if _isolated:
        return
    import importlib
    import random

    own = random.Random()
    # Dask's modules that draw from the module-level generator (sizeof samples a
    # collection's items; the scheduler and workers pick peers; comms back off).
    for name in ("dask.sizeof", "distributed.utils_comm", "distributed.scheduler",
                 "distributed.worker", "distributed.comm.core"):
        module = importlib.import_module(name)
        if getattr(module, "random", None) is random:
            module.random = own  # type: ignore[attr-defined]
    from distributed.protocol import compression

    if getattr(compression, "randint", None) is random.randint:
        compression.randint = own.randint
    _isolated = True


def _wall_offset() -> float:
    """Add to this process's monotonic clock to get wall time (the machines' shared clock)."""
    return time.time() - time.monotonic()


def _run_on_cluster(func: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: Mapping[str, Any]) -> tuple[Any, str, float, float]:
    isolate_dask_randomness()
    value, _pid, start, end = _run_in_worker(func, args, kwargs)
    offset = _wall_offset()
    return value, _where(), start + offset, end + offset


def _run_batch_on_cluster(calls: list[Any]) -> tuple[list[Any], str]:
    isolate_dask_randomness()
    outcomes, _pid = _run_batch_in_worker(calls)
    offset = _wall_offset()
    return [(value, start + offset, end + offset) for value, start, end in outcomes], _where()


class ClusterSlot:
    """One of the cluster's threads, lent to a job: one call (or batch) at a time."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._in_flight: set[Any] = set()  # a call, or a batch and the one sent behind it
        self._lock = threading.Lock()
        self._killed_by_cancel = False

    def run(self, key: Any, func: Callable[..., Any], args: tuple[Any, ...],
            kwargs: Mapping[str, Any], on_start: Callable[[str], None] | None = None,
            ) -> tuple[Any, str, float, float]:
        """As :meth:`ProcessSlot.run`, on the cluster."""
        future = self._submit(key, _run_on_cluster, func, args, kwargs)
        if on_start is not None:
            on_start("cluster")
        value, where, start, end = self._result(key, future)
        if isinstance(value, _Failure):
            raise value.error()
        return value, where, _local(start), _local(end)

    def send_batch(self, keys: list[Any], calls: list[Any]) -> SentBatch:
        return SentBatch(keys, self._submit(keys, _run_batch_on_cluster, calls), None, "cluster")

    def collect_batch(self, sent: SentBatch) -> tuple[list[Any], str]:
        outcomes, where = self._result(sent.keys, sent.future)
        return batch_outcomes(outcomes, _local), where

    def arm(self) -> None:
        self._killed_by_cancel = False

    def kill(self) -> None:
        """Cancel what runs now (on the cluster it finishes, unheard)."""
        with self._lock:
            self._killed_by_cancel = True
            futures, self._in_flight = list(self._in_flight), set()
        for future in futures:
            threading.Thread(target=future.cancel, daemon=True).start()

    def close(self) -> None:
        self.kill()

    def _submit(self, key: Any, *call: Any) -> Any:
        with self._lock:
            if self._killed_by_cancel:
                raise CancelledInWorker(key)
            future = self.client.submit(*call, pure=False)
            self._in_flight.add(future)
            return future

    def _result(self, key: Any, future: Any) -> Any:
        from distributed.scheduler import KilledWorker

        # Wait on our own event, never with ``future.result(timeout=...)``: the client
        # shares one gather among the threads collecting at once, and a timeout that
        # fires in one of them cancels it under the others (distributed 2026.8 then
        # fails them with an UnboundLocalError from its ``sync``).
        done = threading.Event()
        future.add_done_callback(lambda _future: done.set())
        while not done.wait(0.1):
            if self._killed_by_cancel:
                raise CancelledInWorker(key)
        try:
            outcome = future.result()
        except KilledWorker as exc:
            raise WorkerDiedError(key, f"it killed Dask workers ({exc})") from None
        except Exception:
            if self._killed_by_cancel or future.cancelled():
                raise CancelledInWorker(key) from None
            raise
        with self._lock:
            self._in_flight.discard(future)  # the cluster may let go of the value
        return outcome


def _local(wall: float) -> float:
    """A worker's wall-clock timestamp on the kernel's monotonic clock (the views')."""
    return wall - _wall_offset()


class ClusterSlotPool(SlotPool):
    """The cluster's threads as slots, lent to jobs as :class:`SlotPool` lends processes."""

    def __init__(self, client: Any) -> None:
        super().__init__(lambda: ClusterSlot(client))
        self.client = client

    @property
    def threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))


_pools: dict[int, ClusterSlotPool] = {}


def slot_pool_of(client: Any) -> ClusterSlotPool:
    """One slot pool per client, for the kernel's life."""
    pool = _pools.get(id(client))
    if pool is None or pool.client is not client:
        pool = _pools[id(client)] = ClusterSlotPool(client)
    return pool

