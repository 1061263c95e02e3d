"""Worker processes die with their kernel, however it dies; ``%parallel status`` lists them.

Real kernels, real processes: the kernel is SIGKILLed alone (as the out-of-memory
killer does: no cleanup runs in it) or restarted from the client (its whole
process group is killed), and every process it started must be gone within
``GONE_WITHIN`` seconds. Each test first asserts that the processes it expects
gone were there, so none can pass vacuously.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator

import psutil
import pytest
from kernel_session import KernelSession

from kernel_ext.process_pool import ProcessSlot

GONE_WITHIN = 10.0  # seconds

SETUP = "import time\ndef nap(i, seconds=0.2):\n    time.sleep(seconds)\n    return i\n"
PROCESSES_CELL = (
    "%%parallel --processes --workers 2\nout = []\nfor i in range(10):\n    out.append(nap(i))"
)
THREADS_CELL = "%%parallel --threads\na = nap(1)\nb = nap(2)"
CLUSTER_CELL = "%%parallel --cluster local\nc = nap(3)\nd = nap(4)"


@pytest.fixture
def session() -> Iterator[KernelSession]:
    session = KernelSession().start()
    try:
        session.run_ok("%load_ext kernel_ext")
        session.run_ok("%config Parallel.progress = False")
        session.run_ok(SETUP)
        yield session
    finally:
        if session.kc is not None:
            session.kc.stop_channels()
            session.kc = None
        with contextlib.suppress(Exception):  # a kernel the test killed
            session.km.shutdown_kernel(now=True)
        session._spec_dir.cleanup()


def kernel_process(session: KernelSession) -> psutil.Process:
    return psutil.Process(session.km.provisioner.process.pid)


def descendants(session: KernelSession) -> list[psutil.Process]:
    return kernel_process(session).children(recursive=True)


def command(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return "(gone)"


def loky_workers(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if "popen_loky_posix" in command(p)]


def still_running(processes: list[psutil.Process], within: float) -> list[psutil.Process]:
    """Those of ``processes`` still running (zombies count as ended) after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        alive = [p for p in processes if _running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_kernel_alone(session: KernelSession) -> None:
    """SIGKILL the kernel process only (not its group), as the out-of-memory killer does."""
    os.kill(session.km.provisioner.process.pid, signal.SIGKILL)


def assert_all_gone(processes: list[psutil.Process]) -> None:
    alive = still_running(processes, GONE_WITHIN)
    try:
        assert not alive, f"outlived the kernel by {GONE_WITHIN:.0f} s: " + str(
            [(p.pid, command(p)) for p in alive]
        )
    finally:
        for process in alive:
            process.kill()


def test_idle_workers_and_their_trackers_exit_when_the_kernel_is_killed(
    session: KernelSession,
) -> None:
    session.run_ok(PROCESSES_CELL)
    session.run_ok(THREADS_CELL)
    assert session.evaluate("(out, a, b)") == (list(range(10)), 1, 2)
    before = descendants(session)
    assert len(loky_workers(before)) == 2, [command(p) for p in before]
    assert any("resource_tracker" in command(p) for p in before), [command(p) for p in before]

    kill_kernel_alone(session)
    assert_all_gone(before)


def test_busy_workers_exit_when_the_kernel_is_killed(session: KernelSession) -> None:
    session.run_ok(
        "%%parallel --processes --background --workers 2\nx = nap(1, 60)\ny = nap(2, 60)"
    )
    deadline = time.monotonic() + 30
    while len(loky_workers(descendants(session))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    before = descendants(session)
    workers = loky_workers(before)
    assert len(workers) == 2, [command(p) for p in before]
    time.sleep(1.0)  # each is inside its 60 s nap
    assert all(_running(p) for p in workers)

    kill_kernel_alone(session)
    assert_all_gone(before)


def test_a_worker_killed_mid_loop_fails_the_cell_and_keeps_the_iterations_before_it(
    session: KernelSession,
) -> None:
    """A worker that dies running an iteration (killed from outside, as the out-of-memory
    killer would) fails the cell with WorkerDiedError; what the loop appended before that
    iteration stays, as the plain loop would have left it, and the next cell runs."""
    msg_id = session.send(
        "%%parallel --processes --workers 2\nout = []\nfor i in range(30):\n"
        "    out.append(nap(i, 0.3))"
    )
    deadline = time.monotonic() + 30
    while len(loky_workers(descendants(session))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)  # a few iterations have run
    victim = loky_workers(descendants(session))[0]
    victim.kill()
    result = session.collect(msg_id, timeout=60)
    assert result.error is not None and result.error.ename == "WorkerDiedError", result
    assert result.error.evalue.startswith("the worker process running iteration ")
    assert "The iterations before it were applied" in result.error.evalue
    assert "of 'line 2: for i in range(30):' died before it finished (exit code SIGKILL" in (
        result.error.evalue)
    kept = session.evaluate("out")
    assert 0 < len(kept) < 30 and kept == list(range(len(kept)))
    session.run_ok(PROCESSES_CELL)
    assert session.evaluate("out") == list(range(10))


def test_a_worker_killed_mid_statement_names_the_statement(session: KernelSession) -> None:
    msg_id = session.send("%%parallel --processes --workers 2\na = nap(1)\nb = nap(2, 60)")
    time.sleep(3)  # a has ended; b naps in its worker
    for worker in loky_workers(descendants(session)):
        worker.kill()
    result = session.collect(msg_id, timeout=60)
    assert result.error is not None and result.error.ename == "WorkerDiedError", result
    assert result.error.evalue.startswith(
        "the worker process running line 2 (b = nap(2, 60)) died before it finished")
    assert result.error.cell_lines()[-1][1] == 2  # the traceback points at the line
    assert session.evaluate("a") == 1


def test_local_cluster_workers_exit_when_the_kernel_is_killed(session: KernelSession) -> None:
    session.run_ok(CLUSTER_CELL, timeout=120)
    assert session.evaluate("(c, d)") == (3, 4)
    before = descendants(session)
    cluster_workers = [p for p in before if "spawn_main" in command(p)]
    assert cluster_workers, [command(p) for p in before]

    kill_kernel_alone(session)
    assert_all_gone(before)


def test_a_restart_from_the_client_leaves_no_process_behind(session: KernelSession) -> None:
    session.run_ok(PROCESSES_CELL)
    session.run_ok(THREADS_CELL)
    session.run_ok(CLUSTER_CELL, timeout=120)
    old_kernel = kernel_process(session)
    before = [old_kernel, *descendants(session)]
    assert len(loky_workers(before)) == 2, [command(p) for p in before]
    assert any("spawn_main" in command(p) for p in before), [command(p) for p in before]

    session.km.restart_kernel(now=True)
    assert_all_gone(before)
    session.kc.wait_for_ready(timeout=60)
    assert session.evaluate("1 + 1") == 2


# ----------------------------------------------------------------------- %parallel status


def status(session: KernelSession) -> tuple[str, str]:
    result = session.run_ok("%parallel status")
    assert len(result.results) == 1, result
    return result.results[0]["text/plain"], result.results[0]["text/html"]


def test_status_before_any_processes_cell_says_there_are_none(session: KernelSession) -> None:
    text, html = status(session)
    kernel = kernel_process(session)
    assert f"kernel: pid {kernel.pid}, " in text
    assert "no worker processes" in text and "no worker processes" in html
    assert "<table" not in html


def test_status_lists_the_workers_and_their_memory_and_the_kernels(
    session: KernelSession,
) -> None:
    session.run_ok(PROCESSES_CELL)
    text, html = status(session)
    kernel = kernel_process(session)
    workers = loky_workers(descendants(session))
    assert len(workers) == 2

    lines = text.splitlines()
    kernel_mib = float(lines[0].split(", ")[1].split()[0])
    assert abs(kernel_mib - kernel.memory_info().rss / 2**20) < 0.25 * kernel_mib, text
    assert lines[1].startswith("thread pool: ") and "at most" in lines[1]
    assert lines[2].startswith("worker processes: 2, "), text
    rows = {int(row.split()[1]): float(row.split()[2]) for row in lines[4:]}
    assert set(rows) == {p.pid for p in workers}, text
    for worker in workers:
        assert abs(rows[worker.pid] - worker.memory_info().rss / 2**20) < 0.25 * rows[worker.pid]
    total = float(lines[2].split(", ")[1].split()[0])
    assert abs(total - sum(rows.values())) < 0.2, text
    for worker in workers:
        assert f"<td>{worker.pid}</td>" in html
    assert "<td>total</td>" in html


def test_status_lists_local_cluster_workers(session: KernelSession) -> None:
    session.run_ok(CLUSTER_CELL, timeout=120)
    text, _html = status(session)
    cluster_workers = [p for p in descendants(session) if "spawn_main" in command(p)]
    assert cluster_workers
    for worker in cluster_workers:
        assert any(
            line.startswith("local cluster") and f" {worker.pid} " in line
            for line in text.splitlines()
        ), text


def test_status_takes_no_arguments(session: KernelSession) -> None:
    result = session.execute("%parallel status now")
    assert "UsageError: %parallel status takes no arguments" in result.stderr


# ------------------------------------------------- the watchdog, without a kernel around it


def test_a_worker_started_from_a_thread_that_ends_lives_on() -> None:
    """Unlike Linux's parent-death signal, the watchdog follows the kernel process, not
    the thread that started the worker (loky starts workers from whichever thread submits)."""
    slot = ProcessSlot()
    first: list[int] = []
    starter = threading.Thread(target=lambda: first.append(slot.run("k", os.getpid, (), {})[0]))
    starter.start()
    starter.join()
    try:
        pid = first[0]
        assert slot.pid == pid
        time.sleep(1.0)
        assert _running(psutil.Process(pid))
        assert slot.run("k", os.getpid, (), {})[0] == pid
    finally:
        slot.close()


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_exit_with_ends_the_process_when_the_watched_one_is_killed(pidfd: bool) -> None:
    """A parent starts a child that watches it with ``exit_with``; SIGKILL the parent."""
    child = textwrap.dedent(f"""
        import os, sys, time
        if not {pidfd}:
            del os.pidfd_open  # as on systems without pidfds
        from kernel_ext.process_pool import exit_with
        exit_with(os.getppid())
        print("watching", flush=True)
        time.sleep(60)
    """)
    parent = textwrap.dedent(f"""
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", {child!r}], stdout=subprocess.PIPE)
        print(child.pid, child.stdout.readline().decode().strip(), flush=True)
        time.sleep(60)
    """)
    with subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        pid, word = process.stdout.readline().decode().split()
        assert word == "watching"
        watcher = psutil.Process(int(pid))
        time.sleep(0.7)  # more than one polling period: it does not exit while watched
        assert _running(watcher)
        process.kill()
        process.wait()
        assert not still_running([watcher], 3.0)
