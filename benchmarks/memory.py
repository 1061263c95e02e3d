"""Peak memory of a reduction tree whose leaves each return a 10 kB bytes object.

Each engine runs in a fresh interpreter (``python -m benchmarks.memory``), so
one run's garbage or allocator state cannot leak into the other's. Peak is the
process's peak RSS: it sees everything the process holds (results, the
converted graph, thread stacks) at no runtime cost, where tracemalloc would
slow both engines several-fold and change what runs when. It is read from
``VmHWM`` in ``/proc/self/status`` (the peak of this address space), not
``ru_maxrss``: Linux carries ``ru_maxrss`` across fork+exec, so a child started
by a big runner would report the runner's peak. ``ru_maxrss`` is the fallback
elsewhere.
The child imports both libraries and builds the dict before taking its
baseline; "delta" is peak minus that baseline, i.e. what running the graph
cost. The target compares peaks.
"""

from __future__ import annotations

import functools
import json
import resource
import subprocess
import sys

from benchmarks.core import Row, Settings, case

MB = 1024  # peaks are in kB


def _peak_kb() -> int:
    """Peak RSS of this address space in kB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


def child(engine: str, leaves: int, leaf_bytes: int, workers: int) -> dict[str, float]:
    """Run once in this (fresh) process and report baseline and peak RSS in MB."""
    import dask.threaded

    import kernel_ext
    from benchmarks.graphs import blob, nbytes, reduction

    dsk, key = reduction(leaves, functools.partial(blob, size=leaf_bytes), nbytes)
    baseline = _peak_kb()
    if engine == "kernel_ext":
        value = kernel_ext.get(dsk, key, backend="threads", num_workers=workers)
    else:
        value = dask.threaded.get(dsk, key, num_workers=workers)
    assert value == leaves * leaf_bytes, value
    peak = _peak_kb()
    return {"baseline": baseline / MB, "peak": peak / MB, "tasks": len(dsk)}


def _measure(engine: str, leaves: int, leaf_bytes: int, workers: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "benchmarks.memory", engine, str(leaves), str(leaf_bytes),
           str(workers)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@case("tree-memory")
def tree_memory(s: Settings) -> list[Row]:
    """Peak RSS of a 10 kB-leaf reduction tree, fresh process each (target: <= Dask's)."""
    workers = 2
    runs: dict[str, list[dict[str, float]]] = {"kernel_ext": [], "dask": []}
    for r in range(2):  # interleaved; memory is steady, two runs catch a fluke
        for engine in (["kernel_ext", "dask"] if r % 2 == 0 else ["dask", "kernel_ext"]):
            runs[engine].append(_measure(engine, s.memory_leaves, s.memory_leaf_bytes, workers))
    ke = min(runs["kernel_ext"], key=lambda m: m["peak"])
    dk = min(runs["dask"], key=lambda m: m["peak"])
    live_leaves = (ke["peak"] - ke["baseline"]) * MB * 1024 / s.memory_leaf_bytes
    return [
        Row(
            "tree-memory",
            f"{s.memory_leaves:,} leaves x {s.memory_leaf_bytes:,} B, "
            f"{int(ke['tasks']):,} tasks, threads={workers}",
            "MB peak RSS", ke["peak"], dk["peak"], "dask.threaded.get", "<= dask",
            ke["peak"] <= dk["peak"],
            f"over graph baseline: kernel_ext +{ke['peak'] - ke['baseline']:.0f} MB "
            f"(~{live_leaves:,.0f} leaves' worth), dask +{dk['peak'] - dk['baseline']:.0f} MB",
        )
    ]


if __name__ == "__main__":
    engine, leaves, leaf_bytes, workers = sys.argv[1], *map(int, sys.argv[2:5])
    print(json.dumps(child(engine, leaves, leaf_bytes, workers)))
