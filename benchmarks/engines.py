"""How each engine is called, so every case calls them the same way.

Both get the same graph dict and convert it inside the call (a user pays that).
Dask's process peer gets a persistent, warmed pool, as kernel_ext keeps its
worker processes between jobs, and ``optimize_graph=False``: its default fuses a
linear chain into one deeply nested task, which measures no dispatch at all and
overflows the recursion limit at 1,000 links (Dask 2026.8). Its batching
(``chunksize=6``) is left at the default.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import dask.multiprocessing
import dask.threaded

import kernel_ext

Runner = Callable[[], Any]


def kernel_ext_runner(dsk: dict, keys: Any, backend: str, workers: int) -> Runner:
    return lambda: kernel_ext.get(dsk, keys, backend=backend, num_workers=workers)


def dask_threads_runner(dsk: dict, keys: Any, workers: int) -> Runner:
    return lambda: dask.threaded.get(dsk, keys, num_workers=workers)


def dask_processes_runner(dsk: dict, keys: Any, pool: ProcessPoolExecutor) -> Runner:
    return lambda: dask.multiprocessing.get(dsk, keys, pool=pool, optimize_graph=False)


def _noop() -> int:
    return 0


@contextlib.contextmanager
def warm_process_pools(workers: int) -> Iterator[ProcessPoolExecutor]:
    """Start both engines' worker processes before timing, and yield Dask's pool."""
    ctx = multiprocessing.get_context(dask.config.get("multiprocessing.context", "spawn"))
    pool = ProcessPoolExecutor(workers, mp_context=ctx)
    try:
        warm = {("w", i): (_noop,) for i in range(4 * workers)}
        kernel_ext.get(warm, list(warm), backend="processes", num_workers=workers)
        dask.multiprocessing.get(warm, list(warm), pool=pool)
        yield pool
    finally:
        pool.shutdown()
