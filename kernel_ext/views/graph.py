"""Live graph view: laid out once by ``dot``, then only recoloured.

``dot`` runs in a thread of its own (a subprocess: the GIL is free while it
works), so the job starts at once and runs alongside the layout; refreshes
show the graph as soon as it is ready, and ``finish`` waits for it.

The SVG from ``dot -Tsvg`` is cut into a template at every node's fill colour
(and, for collapsed groups, its ``done/total`` text). A refresh fills the
template with current values and, if the text changed, sets the HTML widget's
value: no new layout, and a cost proportional to the SVG's size.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Hashable
from typing import Any

import ipywidgets as w

from kernel_ext.views.dot import (
    COLLAPSE_OVER,
    COUNT_PLACEHOLDER,
    INSTALL_HINT,
    STATE_COLORS,
    GraphLayout,
    build,
    dot_available,
    group_color,
)
from kernel_ext.views.model import Changes, JobModel

LAYOUT_AFTER = 1.0  # seconds of running before a big graph may be laid out (else: at the end)
_NODE = re.compile(r'<g id="kx(\d+)" class="node">')
_FILL = re.compile(r'fill="([^"]*)"')


class SvgTemplate:
    """An SVG split at replaceable values: ``pieces`` alternate with ``slots``."""

    def __init__(self, svg: str, layout: GraphLayout) -> None:
        self.pieces: list[str] = []
        self.slots: list[tuple[str, int]] = []  # ("fill" | "count", node number)
        self.values: list[str] = []
        pos = 0
        for match in _NODE.finditer(svg):
            node = int(match.group(1))
            end_of_node = svg.find("</g>", match.end())
            fill = _FILL.search(svg, match.end(), end_of_node)
            if fill is None:
                continue
            self._cut(svg, pos, fill.start(1), fill.end(1), ("fill", node))
            pos = fill.end(1)
            if layout.collapsed or node in layout.counted:
                total = layout.sizes[node]
                text = f">{total}/{total}<" if layout.collapsed else f">{COUNT_PLACEHOLDER}<"
                at = svg.find(text, pos, end_of_node)
                if at >= 0:
                    self._cut(svg, pos, at + 1, at + len(text) - 1, ("count", node))
                    pos = at + len(text) - 1
        self.pieces.append(svg[pos:])

    def _cut(self, svg: str, pos: int, start: int, end: int, slot: tuple[str, int]) -> None:
        self.pieces.append(svg[pos:start])
        self.slots.append(slot)
        self.values.append(svg[start:end])

    def render(self) -> str:
        out = [self.pieces[0]]
        for value, piece in zip(self.values, self.pieces[1:], strict=True):
            out.append(value)
            out.append(piece)
        return "".join(out)


class GraphView:
    """The job's graph in an HTML widget, nodes coloured by task state.

    A graph small enough to draw task by task is laid out at once. A big one
    (collapsed to groups) is laid out only once the job has run
    ``LAYOUT_AFTER`` seconds and looks set to run as long again, or when it
    ends, as the task stream builds its plot (``JobModel.worth_building_live``):
    collapsing takes a pass over every task and edge (about 12 ms for 100,000
    tasks) that would otherwise delay the job's start, and a job that ends
    sooner has nothing to watch live. Its final colours are drawn then.
    """

    def __init__(self, job: Any, model: JobModel, collapse_over: int = COLLAPSE_OVER,
                 layout_after: float = LAYOUT_AFTER) -> None:
        self.job = job
        self.model = model
        self.widget = w.HTML(layout=w.Layout(max_height="600px", overflow="auto"))
        self.template: SvgTemplate | None = None
        self.layout: GraphLayout | None = None
        self.layout_after = layout_after
        self._collapse_over = collapse_over
        self._layout_thread: threading.Thread | None = None
        self._node_of: dict[Hashable, int] = {}
        self._counted_of: dict[str, int] = {}  # group of a fan-out's node -> the node
        self._group_node: dict[str, int] = {}
        self._svg: list[str] = []
        self._drawable = dot_available()
        if not self._drawable:
            self.widget.value = f'<div style="color:#a15c00">{INSTALL_HINT}</div>'
            return
        if len(job.keys) <= collapse_over:
            model.track_keys = True  # recolour single tasks, not whole groups
            self._start_layout()
        else:
            self.widget.value = (f'<div style="color:#777">{len(job.keys):,} tasks: the graph of '
                                 f"their groups is drawn once the job has run {layout_after:g} s, "
                                 "or when it ends</div>")

    def _start_layout(self) -> None:
        """Build the graph and start ``dot`` on it in a thread of its own."""
        job = self.job
        self.layout = build(job.graph, job.keys, None, self._collapse_over, job=job)
        if self.layout.collapsed:
            self._group_node = {name: n for n, name in enumerate(self.layout.names)}
        else:
            self._node_of = {keys[0]: n for n, keys in enumerate(self.layout.members)}
            self._counted_of = {job.group_of(self.layout.members[n][0]): n
                                for n in self.layout.counted}
        self._layout_thread = threading.Thread(target=self._lay_out, daemon=True,
                                               name=f"kernel_ext-graph-{job.id}")
        self._layout_thread.start()
        self.widget.value = '<div style="color:#777">laying out the graph…</div>'

    def _ensure_layout(self) -> None:
        """Start the layout now if it has not started (and ``dot`` is there)."""
        if self.layout is None and self._drawable:
            self._start_layout()

    def _lay_out(self) -> None:
        assert self.layout is not None
        try:
            svg = self.layout.digraph.pipe(format="svg", encoding="utf-8", quiet=True)
        except Exception as exc:  # noqa: BLE001 - shown in the view; the job is not affected
            self.widget.value = (f'<div style="color:#a15c00">The graph could not be laid out: '
                                 f"{html.escape(str(exc))}</div>")
            return
        self._svg.append(svg[svg.find("<svg"):])  # drop the XML prologue and doctype

    def _ready(self, wait: bool) -> None:
        """Make the SVG template, coloured from the model, once ``dot`` has finished.

        With ``wait``, wait for ``dot`` first.
        """
        if self.template is not None or self._layout_thread is None:
            return
        assert self.layout is not None
        if wait:
            self._layout_thread.join()
        if self._svg:
            self.template = SvgTemplate(self._svg[0], self.layout)
            self._refresh_nodes(self.model, set(range(len(self.layout.sizes))))

    @property
    def svg(self) -> str:
        """The current SVG (lays the graph out now if that has not started, and waits for it)."""
        self._ensure_layout()
        self._ready(wait=True)
        return self.template.render() if self.template else ""

    def refresh(self, model: JobModel, changes: Changes) -> None:
        if self.template is None:
            if self.layout is None and model.worth_building_live(self.layout_after):
                self._ensure_layout()
            self._ready(wait=False)  # coloured from the model when made
            return
        assert self.layout is not None
        if self.layout.collapsed:
            nodes = {self._group_node[g] for g in changes.groups if g in self._group_node}
        else:
            nodes = {self._node_of[k] for k in changes.keys if k in self._node_of}
            nodes.update(self._counted_of[g] for g in changes.groups if g in self._counted_of)
        if nodes:
            self._refresh_nodes(model, nodes)

    def _refresh_nodes(self, model: JobModel, nodes: set[int]) -> None:
        template, layout = self.template, self.layout
        assert template is not None and layout is not None
        for i, (kind, node) in enumerate(template.slots):
            if node not in nodes:
                continue
            if not layout.collapsed and node not in layout.counted:
                template.values[i] = STATE_COLORS[model.state(layout.members[node][0])]
                continue
            # A collapsed group, or a loop shown as its iterations: colour and done/total.
            name = (layout.names[node] if layout.collapsed
                    else self.job.group_of(layout.members[node][0]))
            group = model.groups[name]
            if kind == "fill":
                template.values[i] = group_color(group.counts, group.total)
            else:
                template.values[i] = html.escape(f"{group.done}/{group.total}")
        value = f"<div>{template.render()}</div>"
        if value != self.widget.value:
            self.widget.value = value

    def finish(self, model: JobModel) -> None:
        self._ensure_layout()  # a big graph of a job that ended before it was due
        self._ready(wait=True)
        if self.template is not None and self.layout is not None:
            self._refresh_nodes(model, set(range(len(self.layout.sizes))))

    def static_html(self) -> str:
        """The graph as drawn (its SVG, or why there is none), for a retired view."""
        return str(self.widget.value)

    def own_widgets(self) -> list[w.Widget]:
        return [self.widget]
