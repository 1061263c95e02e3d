"""Sleeping tasks: does the scheduler keep every thread busy (makespan vs ideal)?"""

from __future__ import annotations

import math

from benchmarks.core import Row, Settings, case, interleave
from benchmarks.engines import dask_threads_runner, kernel_ext_runner
from benchmarks.graphs import sleeps


@case("sleep-makespan")
def sleep_makespan(s: Settings) -> list[Row]:
    """64 x sleep(0.05) on 8 threads: median makespan vs the ideal 0.4 s (target: within 10%)."""
    dsk, keys = sleeps(s.sleep_tasks, s.sleep_seconds)
    ideal = math.ceil(s.sleep_tasks / s.sleep_threads) * s.sleep_seconds
    t = interleave(
        [
            ("kernel_ext", kernel_ext_runner(dsk, keys, "threads", s.sleep_threads)),
            ("dask", dask_threads_runner(dsk, keys, s.sleep_threads)),
        ],
        s.sleep_repeats,
    )
    ke, dk = t.median("kernel_ext"), t.median("dask")
    return [
        Row(
            "sleep-makespan",
            f"{s.sleep_tasks} x sleep({s.sleep_seconds}) threads={s.sleep_threads}",
            "s (median)", ke, dk, "dask.threaded.get", f"<= {ideal * 1.1:.3f} (ideal {ideal:.3f})",
            ke <= ideal * 1.1,
            f"kernel_ext {ke / ideal:.3f}x ideal, dask {dk / ideal:.3f}x ideal",
        )
    ]
