"""The ``%%parallel`` magic in a real IPython shell, against the same cell run plainly.

One ``InteractiveShell`` (IPython's own test shell) with ``%load_ext
kernel_ext``; every cell goes through ``shell.run_cell(..., store_history=False)``
as a notebook would send it. Earlier cells define ``nap`` (a ``time.sleep``)
and the names the big cell reads. The peer is the plain cell (no magic): for
the sleep cells that is the sequential time, for the trivial cells the
magic's overhead is kernel_ext minus peer. Printed output is captured (both
runners) so the terminal does not get it.
"""

from __future__ import annotations

import contextlib
import gc
import io
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks.core import Row, Settings, case

THREADS = 8
TOLERANCE = 1.10  # sleep cells: within 10% of the ideal makespan
OVERHEAD_MS = 5.0  # trivial cell: the magic may add at most this much (median)
ANALYSIS_MS = 50.0  # 500-line cell: analyze_cell under this much (median)
BIG_LINES = 500

SETUP = """\
import math
import time

def nap(seconds):
    time.sleep(seconds)
    return seconds

def f(a, b):
    return a + b

items = []
table = {}
"""

TRIVIAL = "a = 1\nb = 2\nc = a + b\n"


def sleep_cell(n: int, seconds: float) -> str:
    """``n`` independent statements, each sleeping ``seconds``."""
    return "".join(f"a{i} = nap({seconds})\n" for i in range(n))


def loop_cell(n: int, seconds: float) -> str:
    return f"out = []\nfor i in range({n}):\n    out.append(nap({seconds}))\n"


def comprehension_cell(n: int, seconds: float) -> str:
    return f"out = [nap({seconds}) for i in range({n})]\n"


def mixed_cell(lines: int) -> str:
    """A realistic long cell, one statement a line, all cheap to run: assignments
    reading earlier names, calls, comprehensions, prints and method calls."""
    out = ["x0 = 1", "y0 = 2"]
    i = 1
    while len(out) < lines:
        j = max(0, i - 3)
        out += [
            f"x{i} = x{j} + y{j} * 2",
            f"y{i} = f(x{j}, {i}) % 1000",
            f"l{i} = [v * 2 for v in range(x{j} % 7 + 3) if v != {i % 5}]",
            f"print('step', {i}, y{i})",
            f"items.append(len(l{i}))",
            f"r{i} = math.sqrt(abs(y{i})) + len(items)",
            f"table['k{i}'] = {{k: x{i} for k in 'ab'}}",
            f"s{i} = str(y{j}).upper().strip()",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


_SHELL: Any = None


def shell() -> Any:
    """The process's IPython shell with kernel_ext loaded and the setup cell run."""
    global _SHELL
    if _SHELL is None:
        from IPython.core.interactiveshell import InteractiveShell
        from IPython.testing.globalipapp import start_ipython

        # An earlier case (the views) may have made the process's shell already.
        _SHELL = InteractiveShell.instance() if InteractiveShell.initialized() else start_ipython()
        _SHELL.run_line_magic("load_ext", "kernel_ext")
    _run(_SHELL, SETUP)
    return _SHELL


def _run(sh: Any, source: str) -> float:
    """Run one cell; its wall time in seconds. Raises if the cell failed."""
    with contextlib.redirect_stdout(io.StringIO()):
        start = time.perf_counter()
        result = sh.run_cell(source, store_history=False)
        elapsed = time.perf_counter() - start
    result.raise_error()
    return elapsed


def _medians(
    runners: list[tuple[str, Callable[[], float]]], repeats: int
) -> dict[str, float]:
    """Interleave runners (rotating who goes first); median seconds of each."""
    import gc

    runs: dict[str, list[float]] = {name: [] for name, _ in runners}
    for r in range(repeats):
        shift = r % len(runners)
        for name, run in runners[shift:] + runners[:shift]:
            gc.collect()
            runs[name].append(run())
    return {name: statistics.median(times) for name, times in runs.items()}


def _cells(sh: Any, body: str, prelude: str = "") -> list[tuple[str, Callable[[], float]]]:
    def plain() -> float:
        if prelude:
            _run(sh, prelude)
        return _run(sh, body)

    def magic() -> float:
        if prelude:
            _run(sh, prelude)
        return _run(sh, f"%%parallel --workers {THREADS}\n{body}")

    return [("plain", plain), ("kernel_ext", magic)]


@case("parallel-sleeps")
def parallel_sleeps(s: Settings) -> list[Row]:
    """%%parallel cells of sleeps on 8 threads vs the plain cell (target: within 10% of ideal)."""
    sh = shell()
    repeats = max(3, s.sleep_repeats)
    shapes = [
        ("8 statements x nap(0.25)", sleep_cell(8, 0.25), "", 0.25, "a7"),
        ("for loop 16 x nap(0.1), out = [] in cell", loop_cell(16, 0.1), "", 0.2, "out"),
        ("for loop 16 x nap(0.1), out = [] before",
         "for i in range(16):\n    out.append(nap(0.1))\n", "out = []\n", 0.2, "out"),
        ("list comp 16 x nap(0.1)", comprehension_cell(16, 0.1), "", 0.2, "out"),
    ]
    rows = []
    for params, body, prelude, ideal, check in shapes:
        t = _medians(_cells(sh, body, prelude), repeats)
        ke, plain = t["kernel_ext"], t["plain"]
        value = sh.user_ns[check]
        assert value == ([0.1] * 16 if check == "out" else 0.25), value
        rows.append(Row(
            "parallel-sleeps", f"{params}, workers={THREADS}", "s (median)", ke, plain,
            "plain cell", f"<= {ideal * TOLERANCE:.3f} (ideal {ideal:.3f})",
            ke <= ideal * TOLERANCE,
            f"{ke / ideal:.3f}x ideal; speedup {plain / ke:.1f}x; {repeats} runs each",
        ))
    return rows


@case("parallel-overhead")
def parallel_overhead(s: Settings) -> list[Row]:
    """%%parallel's own cost: trivial 3-line cell (target: < 5 ms), 500-line analysis (< 50 ms)."""
    from kernel_ext.analysis import analyze_cell

    sh = shell()
    rows = []
    # Trivial cell: many runs, medians; overhead = magic - plain.
    repeats = max(30, s.repeats * 40)
    for _ in range(5):  # warm both paths (imports, caches)
        _run(sh, TRIVIAL)
        _run(sh, f"%%parallel --workers {THREADS}\n{TRIVIAL}")
    t = _medians(_cells(sh, TRIVIAL), repeats)
    ke, plain = t["kernel_ext"], t["plain"]
    extra_ms = (ke - plain) * 1e3
    rows.append(Row(
        "parallel-overhead", "a = 1; b = 2; c = a + b (3 lines)", "ms (median)", ke * 1e3,
        plain * 1e3, "plain cell", f"magic - plain < {OVERHEAD_MS:.0f} ms",
        extra_ms < OVERHEAD_MS, f"overhead {extra_ms:.2f} ms; {repeats} runs each",
    ))

    # 500-line cell: the analysis alone, as the magic calls it.
    big = mixed_cell(BIG_LINES)
    _run(sh, big)  # bind every name once, as if the cell had run before
    source = sh.transform_cell(big)
    ns = sh.user_ns
    analyze_cell(source, ns)  # warm
    analysis, cpu, collect = [], [], []
    plan = None
    for _ in range(max(5, s.repeats * 3)):
        # Free the last plan and collect first, so no run pays for the one before. The
        # analysis keeps the collector off while it builds; the young-generation collection
        # of what it built then comes at the kernel's next allocations, so it is timed too.
        plan = None
        gc.collect()
        start, start_cpu = time.perf_counter(), time.process_time()
        plan = analyze_cell(source, ns)
        analysed = time.perf_counter()
        gc.collect(0)
        collect.append(time.perf_counter() - analysed)
        analysis.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    ana_ms = statistics.median(analysis) * 1e3
    big_runs = max(5, s.repeats * 2)
    t = _medians(_cells(sh, big), big_runs)
    ke, plain = t["kernel_ext"], t["plain"]
    rows.append(Row(
        "parallel-overhead", f"analyze_cell, {BIG_LINES}-line mixed cell "
        f"({len(plan.statements)} statements)", "ms (median)", ana_ms, plain * 1e3,
        "plain cell", f"< {ANALYSIS_MS:.0f} ms", ana_ms < ANALYSIS_MS,
        f"{len(analysis)} runs, wall, including the collection of what it built "
        f"({statistics.median(collect) * 1e3:.1f} ms); CPU median "
        f"{statistics.median(cpu) * 1e3:.1f} ms; peer = the whole plain cell",
    ))
    rows.append(Row(
        "parallel-overhead", f"whole magic, {BIG_LINES}-line mixed cell", "ms (median)",
        ke * 1e3, plain * 1e3, "plain cell", "", None,
        f"overhead {(ke - plain) * 1e3:.1f} ms (plan + build + run); {big_runs} runs each",
    ))
    return rows
