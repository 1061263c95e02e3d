"""Tutorial 05, background jobs: runs fresh, and shows what its text says it shows."""

from __future__ import annotations

import pytest
from tutorials_support import check_tutorial, execute_fresh, text_of, the_cell

NAME = "05-background-jobs.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t05"))


def output(nb, first_line: str) -> str:
    return text_of(the_cell(nb, first_line))


def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_the_job_starts_at_once_and_other_cells_do_not_wait(executed) -> None:
    nb, _ = executed
    assert output(nb, "%%parallel --bg --workers 2 --stream").startswith("job 1\n")
    assert "waiting" not in output(nb, "started = time.perf_counter()")
    assert output(nb, "print('best score:'").splitlines() == [
        "waiting for job 1: best, scores", "best score: 0.82 from 12 folds"]


def test_cancel_and_failure_are_what_a_later_cell_sees(executed) -> None:
    nb, _ = executed
    listings = [text_of(c) for c in nb.cells if c.cell_type == "code" and c.source == "%jobs"]
    assert "1    running" in listings[0] and "2    running" in listings[1]
    assert "job 2: cancel requested" in output(nb, "%parallel cancel 2")
    assert output(nb, "slow") == "NameError: 'slow' was not produced: job 2 was cancelled"
    assert output(nb, "report") == ("NameError: 'report' was not produced: job 3 failed at "
                                    "line 2: ZeroDivisionError: float division by zero")
    assert output(nb, "import kernel_ext").strip() == (
        "failed | ZeroDivisionError('float division by zero') | True 4")
    assert "all jobs done: ['finished', 'cancelled', 'failed', 'finished']" in output(
        nb, "%parallel wait\n")
