"""Tutorial 01, getting started: runs fresh, and shows what its text says it shows."""

from __future__ import annotations

import re

import pytest
from tutorials_support import check_tutorial, execute_fresh, outputs_of, text_of

NAME = "01-getting-started.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t01"))



def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_the_parallel_cell_gives_the_plain_result_in_less_wall_time(executed) -> None:
    nb, _ = executed
    plain, parallel = outputs_of(nb, "%%time")
    for text in (plain, parallel):
        assert "rows: 5000 5000 6000" in text and text.strip().endswith("7998.5")

    def wall(text: str) -> float:
        value, unit = re.search(r"Wall time: ([\d.]+) (s|ms)", text).groups()
        return float(value) / (1000 if unit == "ms" else 1)

    assert wall(parallel) < wall(plain)  # three half-second loads side by side


def test_the_loops_fan_out_and_count_their_iterations(executed) -> None:
    nb, _ = executed
    (means,) = outputs_of(nb, "%%parallel --workers 8")
    assert "[499.5, 999.5, 1499.5, 1999.5]" in means
    (views,) = outputs_of(nb, "%%parallel --workers 4 --progress")
    assert views.strip().endswith("69000")
    assert re.search(r"16 tasks · [\d.]+ s · 4 workers", views)  # 12 iterations + 4 statements


def test_explain_errors_and_the_assumptions_section(executed) -> None:
    nb, _ = executed
    explained = outputs_of(nb, "%%parallel --explain")
    assert "waits for #0 because of a" in explained[0]
    assert "waits for #0 because of calls" in explained[1]  # fetch_logged's hidden log
    assert "#1 (line 2) b_log, b = fetch(2)\n    runs independently" in explained[2]
    errors = [t for t in (text_of(c) for c in nb.cells if c.cell_type == "code") if "Error" in t]
    assert errors == ["ZeroDivisionError: division by zero"]  # the tagged cell only
    (rolled_back,) = outputs_of(nb, "print('first' in dir()")
    assert rolled_back.strip() == "True False False"
    (logged,) = outputs_of(nb, "%%parallel\na_log")
    assert logged.strip() == "1 4 [1, 2]"
