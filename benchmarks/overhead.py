"""Per-task overhead on trivial tasks: what each scheduler costs per task.

Overhead is wall time / number of tasks in the dict (the tasks themselves take
well under a microsecond), best of ``repeats`` interleaved runs.
"""

from __future__ import annotations

from benchmarks.core import Row, Settings, case, interleave
from benchmarks.engines import (
    dask_processes_runner,
    dask_threads_runner,
    kernel_ext_runner,
    warm_process_pools,
)
from benchmarks.graphs import SHAPES

US = 1e6
AIM = 0.25  # the lead's aim: a quarter of Dask's per-task overhead


@case("overhead-threads")
def overhead_threads(s: Settings) -> list[Row]:
    """Per-task overhead on threads vs dask.threaded.get (target: <= Dask's; aim 1/4)."""
    rows = []
    for shape, build in SHAPES.items():
        for n in s.sizes:
            dsk, keys = build(n)
            for workers in s.thread_counts:
                t = interleave(
                    [
                        ("kernel_ext", kernel_ext_runner(dsk, keys, "threads", workers)),
                        ("dask", dask_threads_runner(dsk, keys, workers)),
                    ],
                    s.repeats,
                )
                _check_same(t.results, shape)
                ke, dk = (t.best(name) / len(dsk) * US for name in ("kernel_ext", "dask"))
                rows.append(
                    Row(
                        "overhead-threads", f"{shape} n={len(dsk):,} threads={workers}",
                        "µs/task", ke, dk, "dask.threaded.get", "<= dask (aim <= 0.25x)",
                        ke <= dk, "" if ke <= AIM * dk else "above the 1/4 aim",
                    )
                )
            del dsk, keys
    return rows


@case("overhead-processes")
def overhead_processes(s: Settings) -> list[Row]:
    """Per-task overhead on processes vs dask.multiprocessing.get (reported, no target)."""
    rows = []
    workers = s.process_workers
    with warm_process_pools(workers) as pool:
        for shape, build in SHAPES.items():
            for n in s.process_sizes:
                dsk, keys = build(n)
                t = interleave(
                    [
                        ("kernel_ext", kernel_ext_runner(dsk, keys, "processes", workers)),
                        ("dask", dask_processes_runner(dsk, keys, pool)),
                    ],
                    s.repeats,
                )
                _check_same(t.results, shape)
                ke, dk = (t.best(name) / len(dsk) * US for name in ("kernel_ext", "dask"))
                rows.append(
                    Row(
                        "overhead-processes", f"{shape} n={len(dsk):,} procs={workers}",
                        "µs/task", ke, dk, "dask.multiprocessing.get",
                    )
                )
    return rows


def _check_same(results: dict, what: str) -> None:
    """Both engines must compute the same answer, or the timing means nothing."""
    if results["kernel_ext"] != results["dask"]:
        raise AssertionError(f"{what}: kernel_ext and dask disagree")
