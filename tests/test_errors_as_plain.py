"""A ``%%parallel`` cell's errors, warnings and debugger look as the plain cell's, always.

In a real kernel: the cell's code is named as the plain cell's (the file name
errors, warnings and the debugger show); with ``%pdb on`` the debugger opens at
the same place (and, without stdin, fails the same way) and kernel_ext's
traceback handling is never unregistered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from kernel_session import ExecResult, KernelSession, strip_ansi
from plain_vs_parallel import compare_plain_and_parallel, names

_CELL_NUMBER = re.compile(r"In ?\[\d+\]")
FAILING_CELL = "a = 1\nb = a + 1\nc = b / 0\nd = 4"  # as a frontend sends it: no final newline


def _normalised(text: str) -> str:
    """Text as the user reads it, with execution counts (which differ by run) left out."""
    return _CELL_NUMBER.sub("In[N]", strip_ansi(text))


def _seen(res: ExecResult) -> dict[str, Any]:
    """What a user sees of a failing cell: every output in order, then status and error."""
    return {
        "status": res.status,
        "error": (res.error.ename, res.error.evalue) if res.error else None,
        "errors": [
            _normalised("\n".join(m["content"]["traceback"]))
            for m in res.raw if m["msg_type"] == "error"
        ],
        "stdout": _normalised(res.stdout),
        "stderr": _normalised(res.stderr),
    }


@pytest.fixture
def debugger_on(kernel: KernelSession) -> Iterator[KernelSession]:
    kernel.run_ok("%pdb on")
    try:
        yield kernel
    finally:
        kernel.run_ok("%pdb off")


def _run_answering(kernel: KernelSession, code: str, *answers: str) -> ExecResult:
    """Run ``code`` with stdin allowed, answering the debugger's prompts with ``answers``."""
    msg_id = kernel.kc.execute(code, allow_stdin=True)
    for answer in answers:
        request = kernel.kc.get_stdin_msg(timeout=30)
        assert request["content"]["prompt"].strip() == "ipdb>"
        kernel.kc.input(answer)
    return kernel.collect(msg_id, code, timeout=30)


def test_the_cells_code_is_named_as_the_plain_cells(kernel: KernelSession, tmp_path: Any) -> None:
    plain, _ = compare_plain_and_parallel(
        kernel, "import sys\n", "x = 1\nhere = sys._getframe().f_code.co_filename",
        str(tmp_path / "files"))
    assert names(plain)["here"].endswith(".py"), plain


def test_a_warning_names_the_plain_cells_file_and_line(
    kernel: KernelSession, tmp_path: Any,
) -> None:
    plain, _ = compare_plain_and_parallel(
        kernel, "import warnings\nwarnings.simplefilter('always')\n",
        "x = 1\nwarnings.warn('careful')\ny = x + 1", str(tmp_path / "files"))
    assert ".py:2: UserWarning: careful" in plain["stderr"], plain


def test_the_debugger_opens_where_it_opens_for_the_plain_cell(
    debugger_on: KernelSession,
) -> None:
    kernel = debugger_on
    plain = _seen(_run_answering(kernel, FAILING_CELL, "q"))
    parallel = _seen(_run_answering(kernel, "%%parallel\n" + FAILING_CELL, "q"))
    assert plain["error"] == ("ZeroDivisionError", "division by zero")
    assert "----> 3 c = b / 0" in plain["stdout"]  # the debugger showed the failing line
    assert parallel == plain


def test_without_stdin_the_debugger_fails_as_for_the_plain_cell(
    debugger_on: KernelSession,
) -> None:
    kernel = debugger_on
    plain = _seen(kernel.execute(FAILING_CELL, timeout=30))
    parallel = _seen(kernel.execute("%%parallel\n" + FAILING_CELL, timeout=30))
    assert plain["error"] is not None and plain["error"][0] == "StdinNotImplementedError"
    assert parallel == plain


def test_after_the_debugger_failed_errors_still_show_as_the_plain_cells(
    debugger_on: KernelSession,
) -> None:
    kernel = debugger_on
    kernel.execute("%%parallel\n" + FAILING_CELL, timeout=30)  # no stdin: the debugger fails
    kernel.run_ok("%pdb off")
    plain = _seen(kernel.execute(FAILING_CELL))
    parallel = _seen(kernel.execute("%%parallel\n" + FAILING_CELL))
    assert "Custom TB Handler failed" not in parallel["stderr"] + parallel["stdout"]
    assert plain["errors"] and "kernel_ext" not in parallel["errors"][0]
    assert parallel == plain


def test_debug_after_the_error_walks_the_plain_cells_frames(kernel: KernelSession) -> None:
    """``%debug`` opens in the function that failed; ``up`` reaches the cell's line."""
    cell = "def f(x):\n    return x / 0\na = 1\nb = f(a)\nc = 3"
    seen = []
    for magic in ("", "%%parallel\n"):
        kernel.execute(magic + cell)
        seen.append(_seen(_run_answering(kernel, "%debug", "up", "p a", "q")))
    plain, parallel = seen
    assert "----> 2     return x / 0" in plain["stdout"]
    assert "----> 4 b = f(a)" in plain["stdout"]
    assert parallel == plain


def test_prun_names_the_plain_cells_file(kernel: KernelSession) -> None:
    """Profiles name a function by the file its cell's code was compiled under."""
    files = []
    for magic in ("", "%%parallel\n"):
        kernel.run_ok(magic + "def f():\n    return sum(range(100))\nx = 1")
        kernel.run_ok("stats = %prun -q -r f()")
        files.append(kernel.evaluate("sorted({key[0] for key in stats.stats if key[2] == 'f'})"))
    assert len(files[0]) == 1 and files[0][0].endswith(".py")
    assert files[1] == files[0]
