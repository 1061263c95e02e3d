"""The ``%%parallel`` magic's own behaviour in a real kernel: interrupt, options, help."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import parallel_kernel_session
from kernel_session import KernelSession

NAP = "import time\ndef nap(x, d):\n    time.sleep(d)\n    return x\n"


@pytest.fixture(scope="module")
def own_kernel() -> Iterator[KernelSession]:
    """A kernel of its own: interrupting must not endanger the shared one."""
    with parallel_kernel_session() as session:
        yield session


# `a` ends at once; `b`, `c` (and `d`) take seconds: a stop lands while `b` runs.
STOPPABLE = "a = nap(1, 0.05)\nb = nap(2, 3.0)\nc = nap(3, 3.0)\nd = nap(4, 3.0)\nprint('end')\n"


def _start_stoppable_cell(kernel: KernelSession, options: str) -> str:
    kernel.reset()
    kernel.run_ok(NAP)
    return kernel.send(f"%%parallel {options}\n{STOPPABLE}")


def _check_stopped_at_b(kernel: KernelSession, res: Any, ename: str, waited: float) -> None:
    """The cell stopped at `b`, shown from there; the kernel goes on; only `a` stays bound."""
    assert res.error is not None and res.error.ename == ename, res.error
    # Shown as the plain cell shows it: from the statement it stopped at, not the magic.
    assert res.error.cell_lines() == [(res.execution_count, 2)], res.error.text
    assert waited < 1.5, f"the cell took {waited:.2f}s to stop"
    assert "end" not in res.stdout
    after = kernel.execute("x = 1\nx + 1").check_ok()
    assert after.results == [{"text/plain": "2"}]
    time.sleep(3.0)  # the abandoned statements end on their threads, then undo themselves
    names = kernel.snapshot()["names"]
    assert names.get("a") == 1
    assert not {"b", "c", "d"} & set(names), sorted(names)


def test_interrupt_stops_the_cell_and_the_kernel_stays_usable(own_kernel: KernelSession) -> None:
    msg_id = _start_stoppable_cell(own_kernel, "--workers 4")
    time.sleep(0.7)
    interrupted_at = time.monotonic()
    own_kernel.interrupt()
    res = own_kernel.collect(msg_id, timeout=30)
    _check_stopped_at_b(own_kernel, res, "KeyboardInterrupt", time.monotonic() - interrupted_at)


def _cancel_button_comm(kernel: KernelSession, msg_id: str) -> str:
    """The comm id of the Cancel button the running cell ``msg_id`` displayed."""
    def has_button(messages: list[dict]) -> bool:
        return any(_is_cancel_button(m) for m in messages)

    messages = kernel.messages_for(msg_id, until=has_button, timeout=20)
    return next(m["content"]["comm_id"] for m in messages if _is_cancel_button(m))


def _is_cancel_button(msg: dict) -> bool:
    if msg["msg_type"] != "comm_open":
        return False
    state = msg["content"]["data"]["state"]
    return state.get("_model_name") == "ButtonModel" and state.get("description") == "Cancel"


def test_the_cancel_button_stops_a_running_foreground_cell(own_kernel: KernelSession) -> None:
    """The click is served while the cell runs: the cell ends at once, as cancelled."""
    msg_id = _start_stoppable_cell(own_kernel, "--workers 2 --progress")
    button = _cancel_button_comm(own_kernel, msg_id)
    time.sleep(0.5)  # `a` is done, `b` and `c` run
    clicked_at = time.monotonic()
    kc = own_kernel.kc
    kc.shell_channel.send(kc.session.msg(  # the message a browser sends for the click
        "comm_msg", {"comm_id": button,
                     "data": {"method": "custom", "content": {"event": "click"}}}))
    res = own_kernel.collect(msg_id, timeout=30)
    _check_stopped_at_b(own_kernel, res, "JobCancelledError", time.monotonic() - clicked_at)
    assert "cancelled at line 2" in res.error.evalue, res.error.evalue


def test_a_parallel_cell_inside_another_magic_or_call_still_runs(kernel: KernelSession) -> None:
    """Only the cell the kernel starts awaits; bodies other code runs are the usual magic call."""
    kernel.reset()
    timed = kernel.execute("%%time\n%%parallel\nx = 2\ny = x * 3\ny").check_ok()
    assert timed.results == [{"text/plain": "6"}] and "Wall time" in timed.stdout
    called = kernel.execute(
        "get_ipython().run_cell_magic('parallel', '--workers 2', 'p = 4\\nq = p + 1\\nq')"
    ).check_ok()
    assert called.results == [{"text/plain": "5"}]
    assert kernel.evaluate("(x, y, p, q)") == (2, 6, 4, 5)


def test_explain_prints_the_plan_and_binds_nothing(kernel: KernelSession) -> None:
    res = kernel.execute("%%parallel --explain\na = 1\nb = a + 1\nc = 2\nprint(b, c)\n").check_ok()
    assert "#0 (line 1) a = 1" in res.stdout
    assert "waits for #0 because of a" in res.stdout
    assert "#2 (line 3) c = 2" in res.stdout
    assert kernel.snapshot()["names"] == {}


def test_the_magic_line_expands_names_as_ipython_does(kernel: KernelSession) -> None:
    """`%%parallel --workers $n` (and `{expr}`), as in any cell magic's line."""
    kernel.run_ok("n = 3")
    res = kernel.execute("%%parallel --workers $n\nx = 1\ny = 2\n").check_ok()
    assert res.error is None and "UsageError" not in res.stderr, res.stderr
    res = kernel.execute("%%parallel --workers {n - 1} --explain\nx = 1\n").check_ok()
    assert "#0 (line 1) x = 1" in res.stdout
    bg = kernel.execute("%%parallel --bg --workers $n\nz = 5\n").check_ok()
    assert bg.stdout.startswith("job ")
    kernel.run_ok("%parallel wait")
    assert kernel.evaluate("z") == 5


def test_unknown_option_is_a_usage_error(kernel: KernelSession) -> None:
    res = kernel.execute("%%parallel --bogus\na = 1\n")
    assert res.status == "error"
    assert res.error is not None and res.error.ename == "UsageError", res.error
    assert "bogus" in res.error.evalue or "bogus" in res.stderr
    assert kernel.snapshot()["names"] == {}


def test_conflicting_options_are_a_usage_error(kernel: KernelSession) -> None:
    res = kernel.execute("%%parallel --threads --processes\na = 1\n")
    assert res.error is not None and res.error.ename == "UsageError", res.error
    res = kernel.execute("%%parallel --workers 0\na = 1\n")
    assert res.error is not None and res.error.ename == "UsageError", res.error
    assert kernel.snapshot()["names"] == {}


def test_config_sets_the_default_workers(kernel: KernelSession) -> None:
    kernel.run_ok("%config Parallel.workers = 3")
    try:
        workers = kernel.evaluate(
            "[m.workers for m in get_ipython().configurables if type(m).__name__ == 'Parallel']"
        )
        assert workers == [3]
        res = kernel.execute("%%parallel\na = 1\nb = a + 1\n").check_ok()
        assert res.error is None
        assert kernel.snapshot()["names"] == {"a": 1, "b": 2}
    finally:
        kernel.run_ok("%config Parallel.workers = None")


def test_help_shows_the_options(kernel: KernelSession) -> None:
    res = kernel.execute("%%parallel?\n").check_ok()
    pages = [p for p in res.payload if p.get("source") == "page"]
    assert pages, res.payload
    text = pages[0]["data"]["text/plain"]
    for option in ("--workers", "--processes", "--threads", "--explain"):
        assert option in text, text


def _frames(text: str) -> list[str]:
    """The frame headers of a traceback, without the cell number (the cells differ)."""
    import re

    return [re.sub(r"Cell In\[\d+\]", "Cell", line) for line in text.splitlines()
            if line.startswith(("Cell In[", "File "))]


@pytest.mark.parametrize("backend", ["", "--processes"])
def test_an_error_shows_the_same_traceback_frames_as_the_plain_cell(
        kernel: KernelSession, backend: str) -> None:
    kernel.run_ok("def half(v):\n    return v / 0\n")
    body = "x = 1\ny = x + 1\nz = half(y)\n"
    plain = kernel.execute(body)
    parallel = kernel.execute(f"%%parallel {backend}\n{body}")
    assert plain.error is not None and parallel.error is not None
    assert parallel.error.ename == plain.error.ename == "ZeroDivisionError"
    parallel_frames = _frames(parallel.error.text)
    assert "run_cell_magic" not in parallel.error.text
    assert parallel_frames[0] == _frames(plain.error.text)[0] == "Cell, line 3"
    if not backend:  # a worker process's frames come as its traceback text instead
        assert parallel_frames == _frames(plain.error.text)


def test_a_syntax_error_is_shown_as_for_the_plain_cell(kernel: KernelSession) -> None:
    plain = kernel.execute("x = 1\ny = (\n")
    parallel = kernel.execute("%%parallel\nx = 1\ny = (\n")
    assert plain.error is not None and parallel.error is not None
    assert (parallel.error.ename, parallel.error.evalue) == (plain.error.ename, plain.error.evalue)
    assert _frames(parallel.error.text) == _frames(plain.error.text)
    assert "analyze_cell" not in parallel.error.text
