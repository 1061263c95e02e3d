"""The benchmark harness runs end to end on tiny sizes, so it cannot rot unnoticed.

Timings are not checked against each other (the machine is shared): only that
both engines were timed and produced rows.
"""

from __future__ import annotations

from benchmarks.core import CASES, Settings
from benchmarks.overhead import overhead_threads
from benchmarks.report import markdown, table


def test_overhead_threads_case_produces_rows_for_both_engines() -> None:
    tiny = Settings(sizes=(20,), thread_counts=(2,), repeats=1)
    rows = overhead_threads(tiny)
    assert {r.params.split()[0] for r in rows} == {"independent+sum", "chain", "tree"}
    for row in rows:
        assert row.kernel_ext > 0
        assert row.peer > 0
        assert row.peer_name == "dask.threaded.get"
    assert "overhead-threads" in table(rows)
    assert "| overhead-threads |" in markdown(rows, {"CPU": "test"}, "python -m benchmarks.run")


def test_cases_are_registered() -> None:
    from benchmarks.run import main

    assert main(["--list"]) == 0  # imports every case module, which registers its cases
    assert {"overhead-threads", "sleep-makespan", "cpu-processes", "tree-memory",
            "loops-processes", "loops-views"} <= set(CASES)
