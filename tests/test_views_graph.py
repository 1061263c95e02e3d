"""Graph view: colours follow final states, labels and edge reasons, collapse, one layout."""

from __future__ import annotations

import re
import threading
import time

import graphviz
import pytest
from views_jobs import fan_in, labelled, tiny

import kernel_ext
from kernel_ext.api import as_graph
from kernel_ext.events import TaskState
from kernel_ext.scheduler import Job
from kernel_ext.views import graph as graph_module
from kernel_ext.views import show_views
from kernel_ext.views.dot import STATE_COLORS
from kernel_ext.views.graph import GraphView
from kernel_ext.views.model import JobModel

NODE_FILL = re.compile(r'<g id="kx(\d+)" class="node">.*?fill="([^"]*)"', re.S)


def run_graph(job):
    views = show_views(job, widgets=True, progress=False, graph=True)
    job.start()
    assert views.hub.wait(30), "views did not settle"
    return views.hub.views[0]


def fills(svg: str) -> dict[int, str]:
    return {int(n): color for n, color in NODE_FILL.findall(svg)}


def test_node_colours_match_final_states() -> None:
    job = fan_in(4, fail=True, keep_going=True)
    view = run_graph(job)
    colors = fills(view.svg)
    assert len(colors) == len(job.keys)
    states = job.states()
    for n, members in enumerate(view.layout.members):
        assert colors[n] == STATE_COLORS[states[members[0]]], members
    assert {states[k] for k in job.keys} >= {TaskState.FINISHED, TaskState.FAILED,
                                               TaskState.SKIPPED}
    assert view.widget.get_state()["value"] == f"<div>{view.svg}</div>"


def test_labels_and_edge_reasons_come_from_meta() -> None:
    view = run_graph(labelled())
    svg = view.svg
    assert "a = load()" in svg and "b = other()" in svg and "more" not in svg
    assert ">b, z<" in svg and ">a<" in svg and ">c<" in svg


def test_reasons_in_angle_brackets_are_laid_out_as_plain_text(capfd) -> None:
    # `<effect>, <output>` looks like an HTML-like label to graphviz; it must stay text,
    # and dot must never write to the cell's stderr.
    from kernel_ext.graph import Graph, Ref, Task

    tasks = [
        Task("a", int, ("1",), group="g", meta={"label": "<first>"}),
        Task("b", int, (Ref("a"),), group="g",
             meta={"label": "print(a)", "edge_labels": {"a": "<effect>, <function state>"}}),
    ]
    view = run_graph(Job(Graph(tasks), "b", num_workers=1))
    assert "could not be laid out" not in view.widget.value
    assert "&lt;effect&gt;, &lt;function state&gt;" in view.svg and "&lt;first&gt;" in view.svg
    assert "Error" not in capfd.readouterr().err


def test_live_updates_recolour_without_a_new_layout(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = graphviz.Digraph.pipe

    def counting_pipe(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(graphviz.Digraph, "pipe", counting_pipe)
    job = fan_in(30, num_workers=2)
    view = run_graph(job)
    assert len(calls) == 1
    assert set(fills(view.svg).values()) == {STATE_COLORS[TaskState.FINISHED]}


def test_big_graphs_collapse_to_groups_and_render_fast() -> None:
    job = tiny(100_000)
    model = JobModel(job)
    t0 = time.perf_counter()
    view = GraphView(job, model)
    svg = view.svg  # lays it out now: the job has not run LAYOUT_AFTER yet
    elapsed = time.perf_counter() - t0
    assert view.layout.collapsed and view.layout.names == ["int", "total"]
    assert elapsed < 1.0, f"collapsed graph took {elapsed:.2f} s"
    assert ">100000/100000<" not in svg and ">0/100000<" in svg


def test_big_graphs_are_laid_out_after_the_job_has_run_a_while() -> None:
    """Collapsing a big graph costs a pass over every task: not before the job starts,
    only once it has run LAYOUT_AFTER (live from then on), or at its end."""
    job = tiny(3000, num_workers=1)
    views = show_views(job, widgets=True, progress=False, graph=True)
    view = views.hub.views[0]
    assert view.layout is None and "once the job has run 1 s" in view.widget.value
    job.start()
    assert views.hub.wait(30)
    assert view.layout is not None and ">3000/3000<" in view.widget.value


def test_a_long_job_gets_its_big_graph_while_it_runs() -> None:
    gate = threading.Event()
    dsk = {("x", i): (int, i) for i in range(300)}
    dsk["wait"] = (gate.wait, 30)
    job = Job(as_graph(dsk), list(dsk), num_workers=2)
    views = show_views(job, widgets=True, progress=False, graph=True)
    view = views.hub.views[0]
    view.layout_after = 0.2
    job.start()
    deadline = time.monotonic() + 20
    while "<svg" not in view.widget.value and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert "<svg" in view.widget.value and not job.done()
        assert ">300/300<" in view.widget.value  # the ints, done; "wait" still running
    finally:
        gate.set()
    assert views.hub.wait(30)


def test_collapsed_groups_show_final_counts() -> None:
    job = tiny(3000)
    view = run_graph(job)
    assert view.layout.collapsed
    assert ">3000/3000<" in view.svg and ">4/4<" in view.svg
    assert set(fills(view.svg).values()) == {STATE_COLORS[TaskState.FINISHED]}


def test_without_dot_the_view_says_how_to_install_graphviz(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(graph_module, "dot_available", lambda: False)
    job = fan_in(3)
    views = show_views(job, widgets=True, graph=True)
    job.start()
    assert views.hub.wait(30)
    assert "apt-get install graphviz" in views.hub.views[1].widget.value
    assert views.hub.views[0].rows["inc"].bar.value == 3  # the rest works


@pytest.mark.parametrize("name, magic", [("g.svg", b"<svg"), ("g.png", b"\x89PNG"), ("g", b"<svg")])
def test_visualize_writes_the_format_of_the_extension(tmp_path, name, magic) -> None:
    dsk = {"a": 1, "b": (sum, ["a", "a"])}
    dot = kernel_ext.visualize(dsk, filename=tmp_path / name)
    assert isinstance(dot, graphviz.Digraph)
    path = tmp_path / (name if "." in name else name + ".svg")
    assert magic in path.read_bytes()[:400]


def test_visualize_colours_a_finished_job() -> None:
    job = fan_in(2)
    job.start()
    job.wait()
    source = kernel_ext.visualize(job).source
    assert source.count(STATE_COLORS[TaskState.FINISHED]) == len(job.keys)


def test_collapsed_edges_count_every_dependency_between_two_groups() -> None:
    import random
    from collections import Counter

    from kernel_ext.api import as_graph
    from kernel_ext.scheduler import Job
    from kernel_ext.views.dot import build

    rng = random.Random(7)
    dsk: dict = {}
    expected: Counter = Counter()  # (group of dependency, group of task) -> edges
    funcs = [sum, max, min, sorted, list]  # a task's group is its function's name
    for i in range(1500):
        deps = rng.sample(range(i), min(i, rng.randint(0, 3)))
        dsk[("x", i)] = (funcs[i % 5], [("x", d) for d in deps])
        expected.update((funcs[d % 5].__name__, funcs[i % 5].__name__)
                        for d in deps if d % 5 != i % 5)
    job = Job(as_graph(dsk), list(dsk))
    for by_job in (job, None):
        layout = build(job.graph, job.keys, None, job=by_job)
        assert layout.collapsed
        edges: Counter = Counter()
        for line in layout.digraph.body:
            if "->" in line:
                src, dst = line.split("[")[0].split("->")
                label = line.split('label="')[1].split('"')[0]
                pair = (layout.names[int(src.strip()[1:])], layout.names[int(dst.strip()[1:])])
                edges[pair] = int(label[1:]) if label else 1
        assert edges == expected
        assert layout.sizes == [len(m) for m in layout.members] == [300] * 5
