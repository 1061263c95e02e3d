"""CPU-bound pure-Python tasks on processes: do we get the cores' speedup?

Speedup is sequential time (the same functions called one after another in
this process) over parallel wall time, best of ``repeats`` each, all
interleaved; worker processes are started before timing. A bare
``pool.map`` over the same functions (no scheduler at all) is timed alongside:
it is the machine's real ceiling, since a shared 2-core box may not give two
free cores, and separates the engine's cost from the hardware's.
"""

from __future__ import annotations

from benchmarks.core import Row, Settings, case, interleave
from benchmarks.engines import dask_processes_runner, kernel_ext_runner, warm_process_pools
from benchmarks.graphs import spin, spins


@case("cpu-processes")
def cpu_processes(s: Settings) -> list[Row]:
    """Pure-Python CPU tasks on processes: speedup over sequential (target >= 1.8x on 2)."""
    workers = s.process_workers
    dsk, keys = spins(s.cpu_tasks, s.cpu_loops)

    def sequential() -> list[int]:
        return [spin(dsk[key][1]) for key in keys]

    with warm_process_pools(workers) as pool:
        t = interleave(
            [
                ("sequential", sequential),
                ("kernel_ext", kernel_ext_runner(dsk, keys, "processes", workers)),
                ("dask", dask_processes_runner(dsk, keys, pool)),
                ("bare pool.map", lambda: list(pool.map(spin, [dsk[k][1] for k in keys]))),
            ],
            s.repeats,
        )
    if not list(t.results["kernel_ext"]) == list(t.results["dask"]) == t.results["sequential"]:
        raise AssertionError("cpu-processes: results disagree")
    seq = t.best("sequential")
    ke, dk = seq / t.best("kernel_ext"), seq / t.best("dask")
    ceiling = seq / t.best("bare pool.map")
    target = 0.9 * workers
    return [
        Row(
            "cpu-processes",
            f"{s.cpu_tasks} tasks, sequential {seq:.2f} s, procs={workers}",
            "x speedup", ke, dk, "dask.multiprocessing.get", f">= {target:.1f}x",
            ke >= target,
            f"machine ceiling (bare pool.map) {ceiling:.2f}x; kernel_ext at "
            f"{ke / ceiling:.0%} of it",
        )
    ]
