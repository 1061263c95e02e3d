"""Dask computations inside ``%%parallel`` cells, in a real kernel: they run on the cell's
workers and show in its live views, a row per Dask task prefix, updated while they run;
their results are what Dask's own scheduler gives."""

from __future__ import annotations

import sys

import pytest
from jupyter_client.manager import KernelManager

SETUP = """\
%load_ext kernel_ext
import time
import dask, dask.array as da, dask.dataframe as dd, numpy as np, pandas as pd

def slow_block(block):
    time.sleep(0.05)
    return block + 1

A = np.random.default_rng(0).random((400, 1000))
rng = np.random.default_rng(7)
for i in range(3):
    pd.DataFrame({"sex": rng.choice(["F", "M"], 300),
                  "age": rng.integers(18, 90, 300)}).to_csv(f"people-{i}.csv", index=False)

@dask.delayed
def load(path):
    return pd.read_csv(path)

@dask.delayed
def process(frame):
    return int((frame.age >= 65).sum())

@dask.delayed
def summarize(counts):
    return sum(counts)
"""

CELLS = {
    "array": """\
%%parallel --workers 2 --stream
x = da.from_array(A, chunks=(10, 1000)).map_blocks(slow_block)
m = x.mean().compute()
print(m)
""",
    "expression": """\
%%parallel --stream
y = da.random.default_rng(1).random((2000, 2000), chunks=(500, 500))
s = (y.dot(y.T + 1) - y.mean(axis=0)).std().compute()
""",
    "dataframe": """\
%%parallel --stream
ages = dd.read_csv("people-*.csv").groupby("sex").age.mean().compute()
""",
    "delayed": """\
%%parallel --stream
total = summarize([process(load(f"people-{i}.csv")) for i in range(3)]).compute()
""",
}

CHECK = """\
with dask.config.set(scheduler="sync"):
    print(m == x.mean().compute(),
          s == (y.dot(y.T + 1) - y.mean(axis=0)).std().compute(),
          ages.equals(dd.read_csv("people-*.csv").groupby("sex").age.mean().compute()),
          total == summarize([process(load(f"people-{i}.csv")) for i in range(3)]).compute())
"""


class Widgets:
    """The widget models a cell's iopub messages created and every update to them."""

    def __init__(self) -> None:
        self.state: dict[str, dict] = {}
        self.history: dict[str, list[dict]] = {}

    def hook(self, msg: dict) -> None:
        kind, content = msg["msg_type"], msg["content"]
        if kind == "comm_open":
            state = dict(content["data"].get("state", {}))
            self.state[content["comm_id"]] = state
            self.history[content["comm_id"]] = [dict(state)]
        elif kind == "comm_msg" and content["data"].get("method") == "update":
            state = self.state.setdefault(content["comm_id"], {})
            state.update(content["data"]["state"])
            self.history.setdefault(content["comm_id"], []).append(dict(state))

    def rows(self) -> dict[str, tuple[str, str]]:
        """Progress rows: label text -> (comm id of its bar, comm id of its counts text)."""
        found = {}
        for state in self.state.values():
            if state.get("_model_name") != "HBoxModel":
                continue
            ids = [c.removeprefix("IPY_MODEL_") for c in state.get("children", [])]
            models = [self.state.get(i, {}) for i in ids]
            names = [m.get("_model_name") for m in models]
            if names == ["LabelModel", "IntProgressModel", "HTMLModel"]:
                found[models[0]["value"]] = (ids[1], ids[2])
        return found


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    km = KernelManager(kernel_name="python3")
    km.kernel_spec.argv[0] = sys.executable
    km.start_kernel(cwd=str(tmp_path_factory.mktemp("dask-cells")))
    client = km.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    yield client
    client.stop_channels()
    km.shutdown_kernel(now=True)


def run(client, code: str) -> tuple[Widgets, str]:
    widgets, printed = Widgets(), []

    def hook(msg: dict) -> None:
        widgets.hook(msg)
        if msg["msg_type"] == "stream":
            printed.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            printed.append("\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=240, output_hook=hook)
    assert reply["content"]["status"] == "ok", "".join(printed)
    return widgets, "".join(printed)


@pytest.fixture(scope="module")
def ran(kernel):
    run(kernel, SETUP)
    shown = {name: run(kernel, cell) for name, cell in CELLS.items()}
    _, checked = run(kernel, CHECK)
    return shown, checked


def test_results_are_what_dasks_own_scheduler_gives(ran):
    _, checked = ran
    assert checked.split() == ["True"] * 4


@pytest.mark.parametrize(("cell", "prefixes"), [
    ("array", ["array", "mean_chunk", "mean_agg"]),  # Dask fused slow_block into them
    ("expression", ["random", "sum", "mean_chunk", "var"]),
    ("dataframe", ["read-csv", "mean_chunk"]),
    ("delayed", ["load", "process", "summarize"]),
])
def test_each_dask_prefix_has_a_full_progress_row(ran, cell, prefixes):
    widgets, _ = ran[0][cell]
    rows = widgets.rows()
    for prefix in prefixes:
        matching = [label for label in rows if label.startswith(prefix)]
        assert matching, (prefix, list(rows))
        bar = widgets.state[rows[matching[0]][0]]
        assert bar["max"] >= 1 and bar["value"] == bar["max"], (prefix, bar)
    statement_rows = [label for label in rows if label.startswith("line ")]
    assert statement_rows  # the statements keep their own rows beside Dask's


def test_dask_rows_are_updated_while_the_computation_runs(ran):
    widgets, printed = ran[0]["array"]
    bar_id, _ = widgets.rows()["mean_chunk"]
    values = [s.get("value", 0) for s in widgets.history[bar_id]]
    final = widgets.state[bar_id]["max"]
    assert final == 40  # one task per block of 10 rows, each sleeping 0.05 s
    assert any(0 < v < final for v in values), values  # seen part-way, not only at the end
    summaries = [s.get("value", "") for s in widgets.state.values()
                 if s.get("_model_name") == "HTMLModel" and "tasks · " in s.get("value", "")]
    # The summary counts the cell's statements and Dask's tasks, on the cell's 2 workers.
    assert any("2 workers" in text for text in summaries), summaries
    count = int(next(t for t in summaries if "2 workers" in t).split("</b>: ")[1].split()[0])
    assert count > 40 + 3
