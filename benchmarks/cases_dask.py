"""Dask users' own work on kernel_ext, side by side with Dask in one run.

``dask-cluster``: per-task overhead of a graph of trivial tasks on a
``distributed.LocalCluster`` (2 workers x 1 thread, processes), run through
``kernel_ext.get(..., backend="dask")`` and through ``client.get`` on the same
graph. Target: within 10% of ``client.get``. Runs alternate; the ratio is the
median of per-round ratios, with their spread.

``dask-array-threads``: a Dask array reduction (``(x.dot(x.T + 1) -
x.mean(axis=0)).std()`` on 2,000 x 2,000 in 500 x 500 chunks) computed with
``scheduler=kernel_ext.get`` (threads) against ``dask.threaded.get`` with as
many threads. Target: no slower.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.core import Row, Settings, case

CLUSTER_LIMIT = 1.10


def _noop(x: Any) -> Any:
    return x


def _total(*xs: Any) -> int:
    return len(xs)


def _graph(n: int, tag: str) -> tuple[dict[Any, Any], Any]:
    """n independent trivial tasks and one that gathers them (fresh keys per run, so
    the cluster never serves a result it still holds)."""
    dsk: dict[Any, Any] = {(f"leaf-{tag}", i): (_noop, i) for i in range(n)}
    dsk[f"total-{tag}"] = (_total, *[(f"leaf-{tag}", i) for i in range(n)])
    return dsk, f"total-{tag}"


def _spread(ratios: list[float]) -> str:
    ordered = sorted(ratios)
    return f"per-round {ordered[0]:.2f}-{ordered[-1]:.2f}x"


@case("dask-cluster")
def dask_cluster(s: Settings) -> list[Row]:
    """Per-task overhead on a LocalCluster: kernel_ext backend='dask' vs client.get (<= 1.10x)."""
    from distributed import Client, LocalCluster

    import kernel_ext

    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        warm, key = _graph(100, "warm")
        kernel_ext.get(warm, key, backend="dask", client=client)  # the plugin, imports
        client.get(*_graph(100, "warm2"))
        for n in (1_000, 5_000):
            ours: list[float] = []
            theirs: list[float] = []
            for r in range(max(5, s.repeats)):
                runs = [("ours", ours), ("dask", theirs)]
                for name, times in runs if r % 2 == 0 else runs[::-1]:
                    dsk, key = _graph(n, f"{name}{n}r{r}")
                    began = time.perf_counter()
                    if name == "ours":
                        assert kernel_ext.get(dsk, key, backend="dask", client=client) == n
                    else:
                        assert client.get(dsk, key) == n
                    times.append((time.perf_counter() - began) / (n + 1) * 1e6)
            ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
            ratio = statistics.median(ratios)
            rows.append(Row(
                "dask-cluster", f"independent+gather n={n:,}, LocalCluster 2 procs x 1 thread",
                "µs/task", statistics.median(ours), statistics.median(theirs),
                "client.get", f"<= {CLUSTER_LIMIT:.2f}x client.get", ratio <= CLUSTER_LIMIT,
                f"median ratio {ratio:.2f}x ({_spread(ratios)}); {len(ours)} runs each, "
                "alternating; views' events from the scheduler plugin included"))
    return rows


@case("dask-array-threads")
def dask_array_threads(s: Settings) -> list[Row]:
    """A Dask array reduction: scheduler=kernel_ext.get vs dask.threaded.get (no slower)."""
    import dask
    import dask.array as da

    import kernel_ext
    from kernel_ext.scheduler import default_workers

    threads = default_workers()
    x = da.random.default_rng(0).random((2000, 2000), chunks=(500, 500))
    y = (x.dot(x.T + 1) - x.mean(axis=0)).std()
    assert y.compute(scheduler=kernel_ext.get) == y.compute(scheduler="threads")  # warm
    ours: list[float] = []
    theirs: list[float] = []
    for r in range(max(15, s.repeats)):
        runs = [(ours, {"scheduler": kernel_ext.get, "num_workers": threads}),
                (theirs, {"scheduler": dask.threaded.get, "num_workers": threads})]
        for times, options in runs if r % 2 == 0 else runs[::-1]:
            began = time.perf_counter()
            y.compute(**options)
            times.append(time.perf_counter() - began)
    ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
    ratio = statistics.median(ratios)
    return [Row(
        "dask-array-threads", f"(x.dot(x.T + 1) - x.mean(axis=0)).std(), 2000^2 in 500^2 "
        f"chunks, {threads} threads", "s (median)", statistics.median(ours),
        statistics.median(theirs), "dask.threaded.get", "<= 1.00x (no slower)", ratio <= 1.0,
        f"median ratio {ratio:.2f}x ({_spread(ratios)}); {len(ours)} runs each, alternating")]
