"""The memory guard: a worker process over ``Parallel.worker_memory_limit`` is stopped and
replaced, its task (or statement) fails with WorkerMemoryError naming the limit, the
kernel lives on and the next work runs on the pool. Real worker processes that really
allocate; limits small enough for this machine."""

from __future__ import annotations

import time

import pytest
from kernel_session import KernelSession

import kernel_ext
from kernel_ext import WorkerDiedError, WorkerMemoryError, memory_guard
from kernel_ext.memory_guard import parse_limit

MB = 10**6


def grow(megabytes: int) -> int:
    """Allocate (and touch) ``megabytes`` 10 MB at a time, slowly enough to be watched."""
    held = []
    for _ in range(megabytes // 10):
        held.append(bytearray(10 * MB))
        time.sleep(0.02)
    return len(held)


@pytest.fixture
def limit_300mb():
    memory_guard.set_worker_memory_limit("300MB")
    yield
    memory_guard.set_worker_memory_limit("auto")


@pytest.mark.parametrize(("value", "expected"), [
    ("2GB", 2 * 10**9), ("1.5 GiB", int(1.5 * 2**30)), ("512MB", 512 * MB),
    (123456789, 123456789), (None, None), ("none", None), (0, None),
    ("50%", memory_guard.machine_memory() // 2), (0.25, memory_guard.machine_memory() // 4),
])
def test_limits_are_read_in_the_usual_forms(value, expected) -> None:
    assert parse_limit(value) == expected


@pytest.mark.parametrize("value", ["lots", "-1GB", "200%", "12 parsecs", -5])
def test_a_bad_limit_says_what_forms_are_accepted(value) -> None:
    with pytest.raises(ValueError, match="is not a memory size. Give bytes"):
        parse_limit(value)


def test_auto_is_a_fair_share_of_the_machine() -> None:
    from kernel_ext.scheduler import default_workers

    assert parse_limit("auto") == memory_guard.machine_memory() // default_workers()


def test_a_task_over_the_limit_fails_and_the_pool_recovers(limit_300mb) -> None:
    job = kernel_ext.submit({"big": (grow, 800), "small": (grow, 20)}, ["big", "small"],
                            backend="processes", num_workers=2)
    assert job.wait(60)
    error = job.exception()
    assert isinstance(error, WorkerMemoryError) and isinstance(error, WorkerDiedError)
    assert error.key == "big" and error.limit == 300 * MB and error.resident > 300 * MB
    assert "over the limit of 286.1 MiB per worker (Parallel.worker_memory_limit)" in str(error)
    assert job.results == {"small": 2}
    assert kernel_ext.get({"again": (grow, 50)}, "again", backend="processes") == 5


def test_a_task_over_the_limit_is_retried_when_retries_are_set(limit_300mb, tmp_path) -> None:
    marker = tmp_path / "tried"

    def big_then_small() -> int:
        first = not marker.exists()
        marker.write_text("x")
        return grow(800 if first else 20)

    assert kernel_ext.get({"t": (big_then_small,)}, "t", backend="processes",
                          retries=1) == 2


SETUP = """\
%load_ext kernel_ext
%config Parallel.progress = False
%config Parallel.worker_memory_limit = '300MB'
import time
def grow(megabytes):
    held = []
    for _ in range(megabytes // 10):
        held.append(bytearray(10 * 10**6))
        time.sleep(0.02)
    return len(held)
"""


@pytest.fixture(scope="module")
def session():
    with KernelSession() as session:
        session.run_ok(SETUP)
        yield session


def test_a_statement_over_the_limit_fails_clearly_and_the_next_cell_runs(session) -> None:
    result = session.execute("%%parallel --processes --workers 2\na = grow(20)\nb = grow(800)",
                             timeout=90)
    assert result.error is not None and result.error.ename == "WorkerMemoryError", result
    assert result.error.evalue.startswith(
        "the worker process running line 2 (b = grow(800)) died before it finished (it used ")
    assert "over the limit of 286.1 MiB per worker (Parallel.worker_memory_limit)" in (
        result.error.evalue)
    assert "%config Parallel.worker_memory_limit = '4GB'" in result.error.evalue
    assert session.evaluate("a") == 2
    session.run_ok("%%parallel --processes --workers 2\nc = grow(20)\nd = grow(30)")
    assert session.evaluate("(c, d)") == (2, 3)


def test_an_iteration_over_the_limit_keeps_the_earlier_ones(session) -> None:
    result = session.execute(
        "%%parallel --processes --workers 2\nout = []\nfor n in [20] * 6 + [800] + [20] * 6:\n"
        "    out.append(grow(n))", timeout=90)
    assert result.error is not None and result.error.ename == "WorkerMemoryError", result
    assert result.error.evalue.startswith("the worker process running iteration 6 ")
    assert session.evaluate("out") == [2] * 6


def test_status_shows_the_limit_and_a_bad_limit_changes_nothing(session) -> None:
    assert "memory limit per worker 286.1 MiB" in str(session.run_ok("%parallel status").results)
    bad = session.execute("%config Parallel.worker_memory_limit = 'lots'")
    assert "is not a memory size" in (bad.stderr + (bad.error.text if bad.error else ""))
    assert "memory limit per worker 286.1 MiB" in str(session.run_ok("%parallel status").results)
