"""Tutorial 02, map-reduce on listening logs: runs fresh, and shows what its text says it shows."""

from __future__ import annotations

import re

import pytest
from tutorials_support import check_tutorial, execute_fresh, outputs_of, text_of

NAME = "02-map-reduce-listening-logs.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t02"))



def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_the_generator_writes_a_year_of_daily_logs(executed) -> None:
    nb, _ = executed
    (made,) = outputs_of(nb, "if len(list(LOG_DIR")
    assert made.startswith("365 files,") and "from 2023-01-01.csv to 2023-12-31.csv" in made
    assert "timestamp,user,artist,track\n2022-12-31 " in made  # a late play of the year before


def test_the_plain_top_ten_lists_ten_artists(executed) -> None:
    nb, _ = executed
    (plain,) = [t for t in outputs_of(nb, "start = time.perf_counter()\ncounts = []")]
    plays = int(re.search(r"([\d,]+) plays of", plain).group(1).replace(",", ""))
    assert 300_000 < plays < 900_000  # a few hundred thousand
    ranks = re.findall(r"^\s*(\d+)\. (.+?)\s+([\d,]+)$", plain, re.M)
    assert [int(r) for r, _, _ in ranks] == list(range(1, 11))
    counts = [int(c.replace(",", "")) for _, _, c in ranks]
    assert counts == sorted(counts, reverse=True) and counts[0] > 2 * counts[-1]  # skewed


def test_every_way_gives_the_plain_answer_and_prints_its_speed_up(executed) -> None:
    nb, _ = executed
    text = "\n".join(text_of(c) for c in nb.cells if c.cell_type == "code")
    assert text.count("same top ten as the plain cell: True") == 2  # threads, processes
    assert "same top ten as plain pandas: True" in text
    assert "plain Python and pandas agree on the top ten: True" in text
    assert len(re.findall(r"speed-up \d+\.\d\dx", text)) == 3
    (table,) = outputs_of(nb, "top10_from_pandas")
    assert len(re.findall(r"^(Counter|pandas), \w+ +\d+\.\d\d +\d+\.\d\dx$", table, re.M)) == 5
    explained = outputs_of(nb, "%%parallel --explain")[0]
    assert "for path in paths: ...  [effect]" in explained  # open and csv keep it in order


def test_the_parallel_cells_end_with_their_summary(executed) -> None:
    # Whether a loop fans out is decided at run time from its iterations' measured
    # durations (about 1-3 ms here, near the thresholds), so the task count varies
    # between runs on a shared machine: 7 statements, or those plus one per iteration.
    nb, _ = executed
    for first_line in ("%%parallel --progress", "%%parallel --processes --stream --graph",
                       "%%parallel --stream --graph"):
        (summary,) = outputs_of(nb, first_line)
        assert re.search(r"%%parallel cell: \d+ tasks · [\d.]+ s · \d+ workers", summary)
