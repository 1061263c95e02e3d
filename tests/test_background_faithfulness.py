"""A background cell followed by cells that use its names means what the plain cells mean.

Each case runs twice in a fresh namespace of the same kernel: once with every
cell plain, in order; once with the marked cells as ``%%parallel --background``
and the others sent right after them (they wait for what they need by
themselves), then ``%parallel wait``. Both runs must leave the same names (and
object identity between names), and the plain cells must print and show the
same, apart from the ``waiting for job N: ...`` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from kernel_session import ExecResult, KernelSession

SLOW = "import time\ndef slow(seconds, value):\n    time.sleep(seconds)\n    return value\n"
WAITING = re.compile(r"^waiting for job .*\n", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    id: str
    setup: str
    cells: tuple[str, ...]
    background: frozenset[int] = frozenset({0})


CASES = [
    Case("chain_then_readers", "",
         ("a = slow(0.3, 2)\nb = a * 3\nc = [a, b]\n", "d = b + 1\nprint(d)", "c.append(d)",
          "a = 'new'")),
    Case("later_cell_rebinds_what_the_job_reads", "x0 = 1",
         ("y = slow(0.4, x0) + 1\n", "x0 = 100", "z = y + x0")),
    Case("later_cell_rebinds_what_the_job_writes", "",
         ("m = slow(0.3, 'job')\nn = m * 2\n", "m = 'cell'", "both = (m, n)")),
    Case("in_place_changes", "L = []",
         ("L.append(slow(0.3, 1))\nL.append(2)\n", "L.append(3)", "n = len(L)\nL")),
    Case("hidden_read_through_a_function", "def f():\n    return model * 2\n",
         ("model = slow(0.3, 21)\n", "r = f()\nr")),
    Case("unrelated_then_dependent", "",
         ("big = slow(0.4, list(range(5)))\n", "u = 'unrelated'", "s = sum(big)\nprint(s)")),
    Case("delete_in_the_job", "",
         ("tmp = slow(0.2, 5)\nres = tmp + 1\ndel tmp\n", "res2 = res * 2",
          "gone = 'tmp' in dir()")),
    Case("opaque_later_cell", "",
         ("q = slow(0.3, 7)\n", "exec('w = q + 1')", "g = globals()['w']")),
    Case("imports_in_the_job", "",
         ("import math\nroot = math.sqrt(slow(0.2, 16))\n", "v = math.floor(math.pi) + root")),
    Case("two_background_cells_in_a_row", "",
         ("p = slow(0.3, [1])\n", "p2 = p + [slow(0.2, 2)]\n", "p.append(0)", "t = (p, p2)"),
         background=frozenset({0, 1})),
    Case("aliases_survive", "",
         ("base = slow(0.2, {'k': 1})\nalias = base\n", "alias['k'] = 2", "same = base is alias")),
    Case("one_line_cell_named_like_a_magic", "",
         ("base = slow(0.3, {'k': 1})\nalias = base\n", "alias['k'] = 3", "k = base['k']")),
    Case("final_expression_and_display", "",
         ("w = slow(0.2, 3)\nw * 2\n", "print(w)\nw + 1")),
]


def _run(kernel: KernelSession, case: Case, background: bool) -> tuple[dict, list[ExecResult]]:
    kernel.reset()
    kernel.run_ok(SLOW)
    if case.setup:
        kernel.run_ok(case.setup)
    shown: list[ExecResult] = []
    for i, cell in enumerate(case.cells):
        if i in case.background:
            kernel.run_ok(f"%%parallel --bg\n{cell}" if background else cell)
        else:
            shown.append(kernel.execute(cell))
    if background:
        kernel.run_ok("%parallel wait")
    return kernel.snapshot(), shown


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_background_then_plain_cells_mean_the_plain_cells(
    kernel: KernelSession, case: Case
) -> None:
    plain_ns, plain_cells = _run(kernel, case, background=False)
    bg_ns, bg_cells = _run(kernel, case, background=True)
    assert all(r.status == "ok" for r in plain_cells), [r.error for r in plain_cells]
    assert bg_ns["names"] == plain_ns["names"]
    assert bg_ns["aliases"] == plain_ns["aliases"]
    for plain, bg in zip(plain_cells, bg_cells, strict=True):
        assert bg.status == plain.status
        assert WAITING.sub("", bg.stdout) == plain.stdout
        assert bg.results == plain.results
