"""Task stream: one horizontal bar per task run, a lane per worker, coloured by group.

Drawn with bokeh inside jupyter_bokeh's ``BokehModel`` widget, whose data
updates go over the widget's comm, so they reach the right cell live. New runs
are appended with ``ColumnDataSource.stream`` (never a redraw).

Big jobs: the first ``max_rows`` runs get a bar each. After that, each
refresh aggregates its new runs into one bar per (worker, group), spanning
the first start to the last end of those runs, labelled with their count;
older bars are never dropped, and total rows stay bounded by
``max_rows + refreshes × workers × groups``. So a 100,000-task job sends a few
thousand rows at most and the browser stays responsive.

jupyter_bokeh's streamed updates are not part of saved widget state; at the
end the widget's ``render_bundle`` (which is) is rebuilt from the final
figure, so a saved notebook shows the whole stream.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

from kernel_ext.events import TaskState
from kernel_ext.views.model import Changes, JobModel, Span

MAX_ROWS = 2000
_FAILED = TaskState.FAILED.value
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94")
FAILED_COLOR = "#d62728"
_bokeh_loaded = False


def load_bokehjs() -> None:
    """Put BokehJS into the page once per kernel, inline: no CDN, works offline."""
    global _bokeh_loaded
    if _bokeh_loaded:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(INLINE, hide_banner=True)
    _bokeh_loaded = True


def short_worker(name: str) -> str:
    """``kernel_ext-3-worker-0`` -> ``worker-0``; ``pid:123`` stays."""
    match = re.search(r"worker-\d+$", name)
    return match.group(0) if match else name


class TaskStreamView:
    """Bokeh task stream of one job; ``widget`` is a jupyter_bokeh ``BokehModel``."""

    def __init__(self, job: Any, model: JobModel, max_rows: int = MAX_ROWS,
                 widget: bool = True) -> None:
        from bokeh.models import ColumnDataSource, FixedTicker, HoverTool
        from bokeh.plotting import figure

        self.job = job
        model.track_spans = True
        self.max_rows = max_rows
        self.rows = 0  # rows sent so far
        self.tasks = 0  # task runs represented by them
        self.colors: dict[str, str] = {}
        self.lanes: dict[str, int] = {}
        self.source = ColumnDataSource(data={c: [] for c in self.COLUMNS})
        fig = figure(height=max(160, 40 + 26 * job.num_workers), sizing_mode="stretch_width",
                     x_axis_label="seconds since start", tools="xpan,xwheel_zoom,reset,save",
                     toolbar_location="above", title=f"{job.name}: task stream")
        fig.hbar(y="lane", left="left", right="right", height=0.8, color="color",
                 line_color=None, alpha="alpha", source=self.source)
        fig.add_tools(HoverTool(tooltips=[("key", "@key"), ("group", "@group"),
                                          ("worker", "@worker"), ("start", "@left{0.000} s"),
                                          ("duration", "@duration{0.000} s"),
                                          ("tasks", "@count")]))
        fig.yaxis.ticker = FixedTicker(ticks=[])
        fig.y_range.flipped = True
        fig.ygrid.grid_line_color = None
        self.figure = fig
        self.widget = None
        if widget:
            from jupyter_bokeh import BokehModel

            load_bokehjs()
            self.widget = BokehModel(fig)

    COLUMNS = ("key", "group", "worker", "lane", "left", "right", "duration", "color", "alpha",
               "count")

    def refresh(self, model: JobModel, changes: Changes) -> None:
        spans = changes.spans
        if not spans:
            return
        if self.rows + len(spans) <= self.max_rows:
            rows = [self._row(s.key, s.group, s.worker, s.start, s.end, s.state, 1)
                    for s in spans]
        else:
            rows = self._aggregate(spans)
        new = {c: [r[i] for r in rows] for i, c in enumerate(self.COLUMNS)}
        self._update_axis()
        self.source.stream(new)
        self.rows += len(rows)
        self.tasks += len(spans)

    def _aggregate(self, spans: list[Span]) -> list[tuple[Any, ...]]:
        room = max(0, self.max_rows - self.rows)
        rows = [self._row(s.key, s.group, s.worker, s.start, s.end, s.state, 1)
                for s in spans[:room]]
        merged: dict[tuple[str, str], list[Any]] = {}
        for s in spans[room:]:
            acc = merged.get((s.worker, s.group))
            if acc is None:
                merged[(s.worker, s.group)] = [s.start, s.end, 1, s.state]
            else:
                acc[0] = min(acc[0], s.start)
                acc[1] = max(acc[1], s.end)
                acc[2] += 1
                if s.state == _FAILED:
                    acc[3] = s.state
        for (worker, group), (start, end, n, state) in merged.items():
            rows.append(self._row(f"{n} tasks", group, worker, start, end, state, n))
        return rows

    def _row(self, key: Hashable, group: str, worker: str, start: float, end: float,
             state: str, count: int) -> tuple[Any, ...]:
        t0 = self.job.started_at or start
        color = FAILED_COLOR if state == _FAILED else self._color(group)
        lane = self.lanes.setdefault(worker, len(self.lanes))
        return (str(key), group, short_worker(worker), lane, start - t0, end - t0, end - start,
                color, 0.9 if count == 1 else 0.6, count)

    def _color(self, group: str) -> str:
        if group not in self.colors:
            self.colors[group] = PALETTE[len(self.colors) % len(PALETTE)]
        return self.colors[group]

    def _update_axis(self) -> None:
        ticks = list(self.lanes.values())
        axis = self.figure.yaxis[0]
        if list(axis.ticker.ticks) != ticks:
            axis.ticker.ticks = ticks
            axis.major_label_overrides = {i: short_worker(w) for w, i in self.lanes.items()}

    def finish(self, model: JobModel) -> None:
        """Rebuild the widget's render bundle, so saved widget state holds the final figure."""
        if self.widget is not None:
            self.widget.update_from_model(self.figure)
