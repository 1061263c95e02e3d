"""One command for every benchmark: ``python -m benchmarks.run [--quick] [--write]``.

Prints a table; with ``--write`` also writes ``benchmarks/RESULTS.md`` (the
table, the machine, and the methodology notes below).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from benchmarks.core import CASES, Row, Settings
from benchmarks.report import machine, markdown, table

# Modules whose import registers cases; add new case modules here.
CASE_MODULES = ("overhead", "latency", "cpu", "memory", "cases_views", "cases_parallel",
                "cases_loops", "cases_dask")

RESULTS = Path(__file__).with_name("RESULTS.md")

METHOD = """
## Method

- Both engines get the very same Dask graph dict; graphs are built outside the
  timed region, and converting them (kernel_ext's `from_dask`, Dask's own
  conversion) is inside it for both, as a user pays it.
- Engines are interleaved (the first runner rotates each round) after a
  `gc.collect()`; per-task overhead is the **best** of the repeats divided by
  the number of tasks in the dict (tasks are trivial `inc`/`add`/`sum`).
  Sleep makespan is the **median** of its repeats; CPU speedup is best
  sequential / best parallel.
- Shapes: *independent+sum* is n-1 independent tasks and one task summing
  them; *chain* is n tasks each needing the previous; *tree* is n/2 leaves
  reduced pairwise (n-1 tasks).
- Processes: kernel_ext keeps its loky worker processes between jobs, so Dask
  gets one persistent warmed `ProcessPoolExecutor` (spawn) passed as `pool=`,
  and `optimize_graph=False`: its default fuses a linear chain into one deeply
  nested task (no dispatch measured at all) and hits a RecursionError at 1,000
  links on Dask 2026.8. Dask still batches 6 tasks per submit (its default).
- Tree memory runs each engine in a fresh interpreter and reads its peak RSS
  (whole-process, zero runtime cost; tracemalloc would slow both engines and
  miss non-Python allocations) from `VmHWM` in `/proc/self/status` rather than
  `ru_maxrss`, which Linux carries across fork+exec from the (large) runner.
  The baseline is taken after importing both libraries and building the dict.
- The machine is shared and noisy: compare ratios within one run, not absolute
  numbers across runs.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--write", action="store_true", help=f"write {RESULTS.name}")
    parser.add_argument("--case", action="append", help="run only these cases (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    args = parser.parse_args(argv)
    for module in CASE_MODULES:
        importlib.import_module(f"benchmarks.{module}")
    if args.list:
        for c in CASES.values():
            print(f"{c.name:20} {c.doc}")
        return 0
    unknown = set(args.case or ()) - set(CASES)
    if unknown:
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}; see --list")
    settings = Settings.quick() if args.quick else Settings()
    rows: list[Row] = []
    for c in CASES.values():
        if (args.case and c.name not in args.case) or (args.quick and not c.in_quick):
            continue
        print(f"running {c.name}: {c.doc}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        rows += c.func(settings)
        print(f"  {time.perf_counter() - started:.1f} s", file=sys.stderr, flush=True)
    print(table(rows))
    if args.write:
        command = "python -m benchmarks.run" + " ".join([""] + (argv or sys.argv[1:]))
        RESULTS.write_text(markdown(rows, machine(), command, METHOD))
        print(f"wrote {RESULTS}", file=sys.stderr)
    failed = [r for r in rows if r.passed is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
