"""Tutorial 03, movie recommendations with pandas: runs fresh, and shows what its text says."""

from __future__ import annotations

import re

import pytest
from tutorials_support import check_tutorial, execute_fresh, outputs_of

NAME = "03-movie-recommendations.ipynb"


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    return execute_fresh(NAME, tmp_path_factory.mktemp("t03"))



def test_it_runs_within_a_minute_and_is_saved_with_its_views(executed) -> None:
    nb, seconds = executed
    check_tutorial(NAME, nb, seconds)


def test_without_the_real_files_it_writes_a_synthetic_set_of_the_same_shape(executed) -> None:
    nb, _ = executed
    (source,) = outputs_of(nb, "from pathlib import Path")
    assert "using the synthetic set in data/ml-100k" in source  # the copy has no data/
    (loaded,) = outputs_of(nb, "%%parallel --progress --stream --graph")
    assert "943 users, 1682 movies, 100000 ratings" in loaded
    (checked,) = outputs_of(nb, "plain_users = ")
    assert "the same frames as plain read_csv: True" in checked
    assert re.search(r"[éèñü]", checked)  # latin-1 titles with accents, read back right


def test_mean_age_by_sex_shows_two_rows(executed) -> None:
    nb, _ = executed
    (aggregates,) = outputs_of(nb, "%%parallel --stream --graph\nmean_age_by_sex")
    block = aggregates.split("mean age by sex:")[1].split("most common occupations:")[0]
    rows = re.findall(r"^([FM])\s+(\d+\.\d)$", block, re.M)
    assert sorted(sex for sex, _ in rows) == ["F", "M"]
    assert all(20 < float(age) < 45 for _, age in rows)
    assert re.search(r"ratings per user: at least (\d+)", aggregates)
    assert int(re.search(r"at least (\d+)", aggregates).group(1)) >= 20


def test_recommendations_list_ten_titles_without_the_movie_itself(executed) -> None:
    nb, _ = executed
    (plain,) = outputs_of(nb, "movie_id = ratings_per_movie.idxmax()")
    assert plain.startswith("Star Wars (1977): rated by ")
    (checked,) = outputs_of(nb, "assert recommendations.equals")
    assert "same recommendations as the plain cell: True" in checked
    listed = re.findall(r"^\s*(\d+)\. (.+) \((\d+) fans\)$", checked, re.M)
    assert [int(rank) for rank, _, _ in listed] == list(range(1, 11))
    titles = [t for _, t, _ in listed]
    assert "Star Wars (1977)" not in titles and len(set(titles)) == 10
    fans = [int(n) for _, _, n in listed]
    assert fans == sorted(fans, reverse=True)
    (parallel,) = outputs_of(nb, "%%parallel --stream --graph\nfans =")
    assert all(title in parallel for title in titles)  # the parallel cell shows the same table
