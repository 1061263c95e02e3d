"""The job's graph as Graphviz: nodes, labels, edge reasons, state colours.

Graphs of more than ``COLLAPSE_OVER`` tasks collapse to one node per group
(with done/total counts) and one edge per pair of groups: a 100,000-task job
then lays out in well under a second and stays readable.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

from kernel_ext.events import TaskState

COLLAPSE_OVER = 200
#: The count line of a task that may fan out (``meta['fans_out']``), drawn this wide so
#: the live ``done/total`` of its iterations fits; the graph view replaces it.
COUNT_PLACEHOLDER = "0000/0000"
STATE_COLORS: dict[TaskState, str] = {
    TaskState.WAITING: "#eeeeee",
    TaskState.QUEUED: "#cfe2f3",
    TaskState.RUNNING: "#ffd966",
    TaskState.FINISHED: "#93c47d",
    TaskState.FAILED: "#e06666",
    TaskState.RETRIED: "#f6b26b",
    TaskState.CANCELLED: "#b7b7b7",
    TaskState.SKIPPED: "#f9cb9c",
}
INSTALL_HINT = ("Graphviz's <code>dot</code> program was not found, so the graph cannot be drawn. "
                "Install it with <code>apt-get install graphviz</code> (Debian/Ubuntu), "
                "<code>brew install graphviz</code> (macOS) or "
                "<code>conda install graphviz</code>; everything else works without it.")


def dot_available() -> bool:
    return shutil.which("dot") is not None


class GraphLayout:
    """A Digraph plus what each node stands for: ``members[i]`` are the keys of node ``kx<i>``.

    ``sizes[i]`` is how many tasks node ``i`` stands for; ``names`` are the
    group names, when collapsed. A collapsed layout lists its members only
    when asked (the live view needs just the sizes).
    """

    def __init__(self, digraph: Any, collapsed: bool) -> None:
        self.digraph = digraph
        self.collapsed = collapsed
        self.names: list[str] = []
        self.sizes: list[int] = []
        self.counted: set[int] = set()  # uncollapsed nodes with a count line (fan-outs)
        self._members: list[list[Hashable]] | None = []
        self._list_members: Callable[[], list[list[Hashable]]] | None = None

    @property
    def members(self) -> list[list[Hashable]]:
        if self._members is None:
            assert self._list_members is not None
            self._members = self._list_members()
        return self._members


def node_label(key: Hashable, meta: Mapping[str, Any]) -> str:
    """``meta['label']``, else the first line of ``meta['source']`` (short), else the key."""
    label = meta.get("label")
    if not label and meta.get("source"):
        label = str(meta["source"]).strip().splitlines()[0] if str(meta["source"]).strip() else ""
    label = str(label or key)
    return label if len(label) <= 40 else label[:39] + "…"


def _esc(text: str) -> str:
    """Plain text for dot: backslashes escaped, and never read as an HTML-like label
    (an edge reason such as `<effect>, <output>` starts with `<` and ends with `>`)."""
    import graphviz  # the view already needs it; the engine does not

    return graphviz.escape(text)  # a str marked plain: keep it as it is (no f-string)


def _plain(text: str) -> str:
    """A label built from escaped parts: still never an HTML-like label."""
    import graphviz

    return graphviz.nohtml(text)


def group_color(counts: Mapping[TaskState, int], total: int) -> str:
    """One colour for a collapsed group: failure first, then activity, then the outcome."""
    for state in (TaskState.FAILED, TaskState.RUNNING):
        if counts.get(state):
            return STATE_COLORS[state]
    if counts.get(TaskState.FINISHED) == total:
        return STATE_COLORS[TaskState.FINISHED]
    for state in (TaskState.CANCELLED, TaskState.SKIPPED, TaskState.QUEUED):
        if counts.get(state):
            return STATE_COLORS[state]
    return STATE_COLORS[TaskState.QUEUED if counts.get(TaskState.FINISHED) else TaskState.WAITING]


def build(graph: Any, keys: Iterable[Hashable], states: Mapping[Hashable, TaskState] | None = None,
          collapse_over: int = COLLAPSE_OVER, job: Any = None) -> GraphLayout:
    """Lay out ``keys`` of ``graph`` (a kernel_ext Graph) as a Digraph, collapsed if big.

    Pass the ``job`` when ``keys`` are its keys: big graphs then lay out faster.
    """
    import graphviz

    keys = keys if isinstance(keys, list) else list(keys)  # a job's keys: 100,000 to copy
    states = states or {}
    dg = graphviz.Digraph(graph_attr={"rankdir": "TB", "bgcolor": "transparent"},
                          node_attr={"shape": "box", "style": "rounded,filled",
                                     "fontname": "Helvetica", "fontsize": "11"},
                          edge_attr={"fontname": "Helvetica", "fontsize": "9",
                                     "color": "#666666"})
    if len(keys) > collapse_over:
        return _build_collapsed(dg, graph, keys, states, job)
    index = {key: i for i, key in enumerate(keys)}
    layout = GraphLayout(dg, collapsed=False)
    for i, key in enumerate(keys):
        task = graph.tasks[key]
        color = STATE_COLORS[states.get(key, TaskState.WAITING)]
        label = _esc(node_label(key, task.meta))
        if task.meta.get("fans_out"):
            label = _plain(f"{label}\\n{COUNT_PLACEHOLDER}")
            layout.counted.add(i)
        dg.node(f"n{i}", label=label, id=f"kx{i}", fillcolor=color,
                tooltip=_esc(f"{key} ({task.group})"))
        layout.members.append([key])
        layout.sizes.append(1)
    for key in keys:
        edge_labels = graph.tasks[key].meta.get("edge_labels") or {}
        for dep in graph.dependencies[key]:
            if dep in index:
                label = edge_labels.get(dep)
                dg.edge(f"n{index[dep]}", f"n{index[key]}",
                        **({"label": _esc(str(label))} if label else {}))
    return layout


def _build_collapsed(dg: Any, graph: Any, keys: list[Hashable],
                     states: Mapping[Hashable, TaskState], job: Any = None) -> GraphLayout:
    """One node per group, one edge per pair of groups.

    Big graphs get here, and the live graph view lays one out as its job
    starts, so per-task work is done by C iterators and numpy, not Python
    loops: each task's group number, then every edge i -> j as the number
    (group of i) * n_groups + (group of j), counted by ``bincount``. Given the
    ``job`` (whose ``keys`` these are), tasks are taken by number from
    ``job.structure()``, without hashing a single key, and the groups with
    their sizes from its tallies, without a pass over the tasks.
    """
    import numpy as np

    layout = GraphLayout(dg, collapsed=True)
    if job is not None:
        groups, dependents = job.structure()
        # The job's tallies list its groups in order of first task, with their sizes.
        tallies = job.group_counts()
        layout.names = list(tallies)
        layout.sizes = [sum(counts.values()) for counts in tallies.values()]
    else:
        groups = list(map(attrgetter("group"), map(graph.tasks.__getitem__, keys)))
        number = dict(zip(keys, range(len(keys)), strict=True))
        dependents = [[] for _ in keys]
        for i, key in enumerate(keys):
            for dep in graph.dependencies[key]:
                if dep in number:
                    dependents[number[dep]].append(i)
        sizes = Counter(groups)
        layout.names, layout.sizes = list(sizes), list(sizes.values())
    group_index = {group: g for g, group in enumerate(layout.names)}
    n_groups = len(layout.names)
    gids = np.fromiter(map(group_index.__getitem__, groups), dtype=np.intp, count=len(groups))
    n_deps = np.fromiter(map(len, dependents), dtype=np.intp, count=len(dependents))
    targets = np.fromiter(chain.from_iterable(dependents), dtype=np.intp,
                          count=int(n_deps.sum()))
    pairs = np.repeat(gids, n_deps) * n_groups + gids[targets]
    pairs = pairs[pairs // n_groups != pairs % n_groups]  # edges inside a group are not drawn
    if n_groups <= 1024:  # a dense count is cheapest
        counts = np.bincount(pairs, minlength=n_groups * n_groups)
        pair_ids = np.flatnonzero(counts)
        pair_counts = counts[pair_ids]
    else:
        pair_ids, pair_counts = np.unique(pairs, return_counts=True)

    def list_members() -> list[list[Hashable]]:
        members: list[list[Hashable]] = [[] for _ in layout.names]
        deque(map(list.append, map(members.__getitem__, gids.tolist()), keys), maxlen=0)
        return members

    layout._members, layout._list_members = None, list_members
    for g, name in enumerate(layout.names):
        total = layout.sizes[g]
        counts_of: Mapping[TaskState, int] = {TaskState.WAITING: total}
        if states:
            counts_of = Counter(map(states.get, layout.members[g], repeat(TaskState.WAITING)))
        # The count line is drawn at its widest ("total/total") so live updates fit.
        dg.node(f"n{g}", label=_plain(f"{_esc(name)}\\n{total}/{total}"), id=f"kx{g}",
                fillcolor=group_color(counts_of, total), tooltip=_esc(f"{name}: {total} tasks"))
    for pair, n in zip(pair_ids.tolist(), pair_counts.tolist(), strict=True):
        d, g = divmod(pair, n_groups)
        dg.edge(f"n{d}", f"n{g}", label=f"×{n}" if n > 1 else "")
    return layout


def visualize(job_or_graph: Any, filename: str | os.PathLike[str] | None = None,
              format: str | None = None, collapse_over: int = COLLAPSE_OVER) -> Any:
    """Draw a job (coloured by task state) or a graph, like Dask's ``visualize``.

    ``filename`` gets the rendering, in the format named by its extension
    (``.svg``, ``.png``, ``.pdf``...; ``.svg`` is added if there is none).
    Returns the ``graphviz.Digraph``, which Jupyter displays as SVG.
    """
    from kernel_ext.api import as_graph

    if hasattr(job_or_graph, "states") and hasattr(job_or_graph, "graph"):
        graph, keys, states = job_or_graph.graph, job_or_graph.keys, job_or_graph.states()
    else:
        graph = as_graph(job_or_graph)
        keys, states = list(graph.tasks), {}
    layout = build(graph, keys, states, collapse_over)
    if filename is not None:
        path = os.fspath(filename)
        root, ext = os.path.splitext(path)
        fmt = format or (ext[1:].lower() if ext else "svg")
        if not ext:
            path = f"{root}.{fmt}"
        with open(path, "wb") as f:
            f.write(layout.digraph.pipe(format=fmt, quiet=True))
    return layout.digraph
