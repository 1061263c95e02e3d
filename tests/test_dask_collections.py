"""Dask collections and ``delayed`` on kernel_ext's engine: what Dask users write, with
``scheduler=kernel_ext.get``, ``dask.config.set`` or ``kernel_ext.compute``, gives what
Dask's own schedulers give, on threads, processes and sync."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import dask
import dask.array as da
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import kernel_ext

BACKENDS = ["threads", "processes", "sync"]


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """Three CSV files of people (name, sex, age), as in Dask's dataframe examples."""
    folder = tmp_path_factory.mktemp("people")
    rng = np.random.default_rng(7)
    for i in range(3):
        pd.DataFrame({
            "name": [f"person-{i}-{j}" for j in range(500)],
            "sex": rng.choice(["F", "M"], 500),
            "age": rng.integers(18, 90, 500),
        }).to_csv(folder / f"people-{i}.csv", index=False)
    return folder


@pytest.mark.parametrize("backend", BACKENDS)
def test_array_mean_from_array(backend):
    A = np.random.default_rng(0).random((100, 10_000))
    mean = da.from_array(A, chunks=(10, 10_000)).mean()
    ours = mean.compute(scheduler=kernel_ext.get, backend=backend)
    assert ours == mean.compute(scheduler="sync")
    assert np.isclose(ours, A.mean())


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_array_expression_on_a_2000_square(backend):
    x = da.random.default_rng(1).random((2000, 2000), chunks=(500, 500))
    y = (x.dot(x.T + 1) - x.mean(axis=0)).std()
    assert kernel_ext.compute(y, backend=backend)[0] == pytest.approx(
        y.compute(scheduler="threads"), rel=1e-12)


def test_dataframe_groupby_mean_from_csv_files(people):
    ages = dd.read_csv(str(people / "people-*.csv")).groupby("sex").age.mean()
    ours = ages.compute(scheduler=kernel_ext.get)
    pd.testing.assert_series_equal(ours, ages.compute(scheduler="sync"))
    plain = pd.concat(pd.read_csv(people / f"people-{i}.csv") for i in range(3))
    assert ours.sort_index().to_dict() == pytest.approx(plain.groupby("sex").age.mean().to_dict())


def test_delayed_pipeline_over_files(people):
    @dask.delayed
    def load(path):
        return pd.read_csv(path)

    @dask.delayed
    def process(frame):
        return frame[frame.age >= 65].shape[0]

    @dask.delayed
    def summarize(counts):
        return sum(counts)

    files = sorted(str(p) for p in people.glob("people-*.csv"))
    total = summarize([process(load(f)) for f in files])
    assert total.compute(scheduler=kernel_ext.get) == total.compute(scheduler="sync")


def test_config_set_and_compute_run_on_the_engine(monkeypatch):
    ran_on = []
    real_get = kernel_ext.get

    def spying_get(dsk, keys, **options):  # the real engine; records that Dask called it
        ran_on.append(options)
        return real_get(dsk, keys, **options)

    x = da.arange(1000, chunks=100)
    with dask.config.set(scheduler=spying_get):
        assert x.sum().compute() == 499_500
    assert len(ran_on) == 1
    total, biggest = kernel_ext.compute(x.sum(), x.max(), backend="sync")
    assert (total, biggest) == (499_500, 999)


def test_persist_keeps_the_values():
    x = da.arange(100, chunks=10) * 2
    kept = x.persist(scheduler=kernel_ext.get)
    assert (kept.compute(scheduler="sync") == np.arange(100) * 2).all()


def test_errors_in_dask_tasks_are_raised_as_dask_raises_them():
    @dask.delayed
    def boom(x):
        raise ValueError(f"bad value {x}")

    with pytest.raises(ValueError, match="bad value 3"):
        boom(3).compute(scheduler=kernel_ext.get)


def test_a_dask_collection_can_be_drawn():
    x = da.ones((40, 40), chunks=(10, 10)).sum()
    drawing = kernel_ext.visualize(x)
    assert "sum" in drawing.source


def test_graph_dicts_made_by_hand_keep_their_function_groups():
    def inc(x):
        return x + 1

    job = kernel_ext.submit({"a": 1, "b": (inc, "a"), "c": (inc, "b")}, "c")
    assert job.result() == 3
    assert job.group_of("b") == "inc"


def _run_isolated(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, env={**os.environ, **env})


def test_without_dask_everything_else_works_and_compute_says_what_to_install():
    result = _run_isolated("""
        import sys
        sys.modules["dask"] = sys.modules["distributed"] = None  # as if not installed
        import kernel_ext
        assert kernel_ext.get({"a": 1, "b": (abs, "a")}, "b") == 1
        for needs_dask in (lambda: kernel_ext.compute(1),
                           lambda: kernel_ext.get({"a": 1}, "a", backend="dask")):
            try:
                needs_dask()
            except ImportError as error:
                print(error)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("pip install 'kernel_ext[dask]'") == 2, result.stdout


OLDEST_DASK = "2025.1.0"  # the floor pyproject.toml allows


@pytest.fixture(scope="module")
def oldest_dask(tmp_path_factory):
    """Dask at the lowest version pyproject.toml allows, in a folder of its own."""
    target = tmp_path_factory.mktemp("oldest-dask")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         f"dask=={OLDEST_DASK}"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return target


def test_the_oldest_dask_allowed_runs_collections_on_the_engine(oldest_dask):
    result = _run_isolated("""
        import dask, dask.array as da, numpy as np
        import kernel_ext
        x = da.from_array(np.arange(10_000.0).reshape(100, 100), chunks=(10, 100))
        assert x.mean().compute(scheduler=kernel_ext.get) == 4999.5
        @dask.delayed
        def double(v):
            return 2 * v
        assert dask.compute(*[double(i) for i in range(4)], scheduler=kernel_ext.get) == (
            0, 2, 4, 6)
        print(dask.__version__)
    """, PYTHONPATH=str(oldest_dask))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == OLDEST_DASK
