"""The differential suite: realistic cells, each run plain and under ``%%parallel``.

Every case in ``tests/differential/cases_*.py`` (one module per kind of state the
analysis must not race, from issue 10, plus a control group) is an earlier cell
(``setup``, run plain) and the cell under test. In a real kernel per mode, with a
fresh namespace and process-wide state put back before each run, the cell runs
plain, then under ``%%parallel`` (threads) or ``%%parallel --processes``; the two
must leave the same names, print and display the same things in the same order,
and raise the same error (type, message, line: see ``plain_vs_parallel``) with a
traceback through the same frames (cell lines and functions, no kernel_ext). The
kernels run with ``Parallel.workers = 8`` (more than this machine's cores), so
statements the analysis leaves unordered really overlap; helpers sleep 0.02-0.1 s
where that makes a race show every time.

Guards against passing vacuously or on noise: every case's plain run must pass
its sanity check; a case's plain outcome must be the same in both modes' kernels
(so a failure is the magic's, not a flaky cell's); control cells must also show,
under ``--explain``, that their independent statements and loops still run in
parallel, so an analysis that orders everything fails too.

Run:  .venv/bin/pytest -q tests/test_differential.py            (all, both modes, ~3 min)
      .venv/bin/pytest -q tests/test_differential.py -k "threads-objects.instance_dict_alias"
Ids are ``<mode>-<kind>.<case>``; the per-case assertion message starts with one
line per difference (``names: n plain 2, parallel 1``).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from differential import ControlCase
from differential.cases import ALL_CASES, KINDS
from differential.harness import MODES, run, summarize
from kernel_session import KernelSession
from plain_vs_parallel import Case, differences

pytest_plugins = ("differential.fixtures",)  # the fixtures mode_kernel and scratch

PID_IN_PATH = re.compile(r"ipykernel_\d+")


def _comparable_across_kernels(outcome: dict[str, Any]) -> str:
    public = sorted((k, v) for k, v in outcome.items() if not k.startswith("_"))
    return PID_IN_PATH.sub("ipykernel_<pid>", repr(public))


PLAIN_OUTCOMES: dict[str, str] = {}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in ALL_CASES])
def test_parallel_cell_means_the_plain_cell(
    mode_kernel: tuple[str, KernelSession], scratch: str, case: Case
) -> None:
    mode, kernel = mode_kernel
    plain = run(kernel, case, scratch, None)
    assert plain["namespace"]["names"] or plain["stdout"] or plain["error"] or plain["outputs"]
    try:
        ok = case.check is None or case.check(plain)
    except Exception as exc:  # a check reading a name the plain run did not bind
        ok, plain["_traceback"] = False, f"{plain['_traceback']}\ncheck raised {exc!r}"
    assert ok, f"sanity check failed on the plain run of {case.id}:\n{plain}"
    seen = PLAIN_OUTCOMES.setdefault(case.id, _comparable_across_kernels(plain))
    assert seen == _comparable_across_kernels(plain), f"plain run of {case.id} is not deterministic"

    par = run(kernel, case, scratch, MODES[mode])
    diff = differences(plain, par)
    assert not diff, (
        f"{case.id} under {MODES[mode]} differs from the plain cell\n{summarize(diff)}\n"
        f"--- cell:\n{case.cell}--- plain traceback:\n{plain['_traceback']}\n"
        f"--- parallel traceback:\n{par['_traceback']}"
    )


CONTROLS = [c for c in ALL_CASES if isinstance(c, ControlCase)]
HEADER = re.compile(r"^#(\d+) \(line (\d+)\) .*$")


def explain_blocks(text: str) -> dict[int, str]:
    """``--explain`` output split per statement: first line in the cell -> its block."""
    blocks: dict[int, str] = {}
    line = None
    for row in text.splitlines():
        match = HEADER.match(row)
        if not match and not row.startswith(" "):
            break  # the plan ends (``--processes`` adds where each statement runs)
        if match:
            line = int(match.group(2))
            blocks[line] = row + "\n"
        elif line is not None:
            blocks[line] += row + "\n"
    return blocks


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CONTROLS])
def test_control_cells_still_run_in_parallel(
    mode_kernel: tuple[str, KernelSession], scratch: str, case: ControlCase
) -> None:
    mode, kernel = mode_kernel
    plan = run(kernel, case, scratch, MODES[mode] + " --explain")
    blocks = explain_blocks(plan["stdout"])
    assert blocks, f"no plan printed:\n{plan}"
    serial = [n for n in case.independent_lines if "runs independently" not in blocks.get(n, "")]
    no_fanout = [n for n in case.fanout_lines if "fan-out" not in blocks.get(n, "")]
    assert not serial and not no_fanout, (
        f"lines that should run independently but wait: {serial}; "
        f"loops that should fan out but do not: {no_fanout}\n{plan['stdout']}"
    )


def test_every_kind_has_enough_cases() -> None:
    ids = [c.id for c in ALL_CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ids) >= 200, len(ids)
    assert all(c.check is not None for c in ALL_CASES), "every case checks its plain run"
    for kind in KINDS:
        count = sum(i.startswith(kind + ".") for i in ids)
        assert count >= 8, f"{kind}: only {count} cases"
    assert len(CONTROLS) >= 8
