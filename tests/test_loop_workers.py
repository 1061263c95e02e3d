"""``--workers N`` bounds everything a cell runs at once, and a failing fan-out is the
plain loop's failure. In a real kernel.

The bound is checked by recording when each iteration ran (each returns its own
start and end; ``time.monotonic`` is one clock for every process of a machine)
and counting overlaps, not by timing the cell.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kernel_session import KernelSession
from plain_vs_parallel import compare_plain_and_parallel, names

TIMED = """\
import time
def timed(i, seconds=0.05):
    start = time.monotonic()
    time.sleep(seconds)
    return (start, time.monotonic())

def most_at_once(spans):
    edges = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = peak = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak
"""


def peak(kernel: KernelSession, magic: str, body: str) -> int:
    kernel.run_ok(TIMED)
    kernel.run_ok(f"{magic}\n{body}")
    return int(kernel.evaluate("most_at_once(spans)"))


LOOP = "spans = []\nfor i in range(16):\n    spans.append(timed(i))\n"
COMPREHENSION = "spans = [timed(i) for i in range(16)]\n"
TWO_LOOPS = ("spans = []\nfor i in range(8):\n    spans.append(timed(i))\n"
             "more = [timed(i) for i in range(8)]\nspans = spans + more\n")


@pytest.mark.parametrize("body", [LOOP, COMPREHENSION, TWO_LOOPS],
                         ids=["loop", "comprehension", "two-loops"])
@pytest.mark.parametrize("workers", [1, 3])
def test_workers_bound_iterations_on_threads(kernel: KernelSession, body: str,
                                             workers: int) -> None:
    got = peak(kernel, f"%%parallel --workers {workers}", body)
    assert got <= workers, f"{got} iterations ran at once with --workers {workers}"
    if workers > 1:
        assert got >= 2  # and the bound is used: the loop does run in parallel


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_bound_iterations_on_processes(kernel: KernelSession, workers: int) -> None:
    got = peak(kernel, f"%%parallel --processes --workers {workers}", LOOP)
    assert got <= workers, f"{got} iterations ran at once with --workers {workers}"
    if workers > 1:
        assert got >= 2


def test_parallel_workers_setting_is_the_same_bound(kernel: KernelSession) -> None:
    kernel.run_ok("%config Parallel.workers = 1")
    try:
        assert peak(kernel, "%%parallel", LOOP) == 1
    finally:
        kernel.run_ok("%config Parallel.workers = None")


FAILING = """\
import time
def step(i):
    time.sleep(0.03)
    print('step', i)
    if i == 7:
        raise ValueError(f'bad input {i}')
    return i * 10
"""


@pytest.mark.parametrize("magic", ["%%parallel --workers 4",
                                   "%%parallel --processes --workers 2"])
def test_fanout_failing_at_iteration_7_of_20_leaves_what_the_plain_loop_leaves(
    kernel: KernelSession, tmp_path: Any, magic: str
) -> None:
    cell = "acc = []\nfor i in range(20):\n    acc.append(step(i))\nafter = 1\n"
    plain, _ = compare_plain_and_parallel(kernel, FAILING, cell, str(tmp_path), magic)
    assert names(plain)["acc"][1] == [0, 10, 20, 30, 40, 50, 60]
    assert plain["error"][0] == "ValueError"
    assert plain["stdout"].split() == [w for i in range(8) for w in ("step", str(i))]


def test_comprehension_failing_midway_is_the_plain_error(kernel: KernelSession,
                                                          tmp_path: Any) -> None:
    cell = "vals = [step(i) for i in range(20)]\n"
    plain, _ = compare_plain_and_parallel(kernel, FAILING, cell, str(tmp_path),
                                          "%%parallel --workers 4")
    assert plain["error"][0] == "ValueError"
    assert plain["stdout"].split() == [w for i in range(8) for w in ("step", str(i))]


ODD_NAMES = """\
import time
def fetch(x):
    time.sleep(0.02)
    return x
"""


def test_labels_with_characters_dot_treats_specially_lay_out(kernel: KernelSession) -> None:
    """Names, strings and comments with <, >, ", {, }, \\, | and non-ASCII in a loop cell
    with the graph view: laid out, nothing on stderr."""
    kernel.run_ok("%load_ext kernel_ext")
    kernel.run_ok(ODD_NAMES)
    cell = ('%%parallel --graph --workers 2\n'
            'données = {}  # <effect> {x} | "q" \\\\ é\n'
            'for clé in ["<a>", "{b}", "c|d", "e\\\\f", "\\"g\\"", "ü"]:\n'
            '    données[clé] = fetch(clé)  # <output> → {ok}\n'
            'print("<done>", len(données))\n')
    res = kernel.execute(cell)
    assert res.error is None, res.error
    assert res.stdout.strip() == "<done> 6"
    assert res.stderr == ""
    sent = json.dumps([m.get("content") for m in res.raw])  # the widgets' state updates
    assert "<svg" in sent and "could not be laid out" not in sent


def test_jobs_count_a_background_loops_iterations_and_its_end(kernel: KernelSession) -> None:
    """%jobs counts a background loop's iterations, and once a later cell has read the
    loop's names the job reads as finished, not running."""
    kernel.run_ok("import time\ndef fetch(i):\n    time.sleep(0.1)\n    return i\n")
    started = kernel.run_ok("%%parallel --background --workers 4\nres = []\n"
                            "for i in range(10):\n    res.append(fetch(i))\n")
    number = started.stdout.split()[-1]
    assert kernel.run_ok("print(res)").stdout.strip().endswith(str(list(range(10))))
    table = kernel.run_ok("%jobs").results[0]["text/plain"]
    row = next(line for line in table.splitlines() if line.split()[0] == number)
    assert row.split()[1:3] == ["finished", "11/11"], table
