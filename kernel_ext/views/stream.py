"""Task stream: one horizontal bar per task run, a lane per worker, coloured by group.

Drawn with bokeh inside jupyter_bokeh's ``BokehModel`` widget, whose data
updates go over the widget's comm, so they reach the right cell live. New runs
are appended with ``ColumnDataSource.stream`` (never a redraw).

Big jobs: the first ``max_rows`` runs get a bar each, in their worker's lane,
from the runs' events. After that the view asks for no more events (an event
per task would cost the job more than the view is worth): each refresh adds,
per group, one bar in an "all workers" lane spanning the time since the
previous refresh, labelled with how many of the group's tasks ended in it,
taken from the job's polled counts. Older bars are never dropped, every task
that ran is counted once, and total rows stay bounded by
``max_rows + refreshes × groups``. So a 100,000-task job sends a few thousand
rows at most and the browser stays responsive.

The plot is built only once the job has run ``PLOT_AFTER`` seconds and looks
set to run as long again (see ``JobModel.worth_building_live``); until then
rows are kept in plain columns and the widget shows a placeholder (made at
once, in the showing cell: widgets made later from a thread would open in
whichever cell runs then). A shorter job gets its plot when it ends, with all
its rows: one document serialization instead of one at the start, one per
refresh's streamed rows and one at the end.

jupyter_bokeh's streamed updates are not part of saved widget state; at the
end the plot's ``render_bundle`` (which is) is rebuilt from the final
figure, so a saved notebook shows the whole stream.
"""

from __future__ import annotations

import re
import time
from array import array
from collections import Counter
from typing import Any

from kernel_ext.events import TaskEvent, TaskState
from kernel_ext.views.model import Changes, JobModel

MAX_ROWS = 2000
ALL_WORKERS = "all workers"  # the lane of aggregated bars
_FINISHED, _FAILED = TaskState.FINISHED.value, TaskState.FAILED.value  # keys of polled counts
_RAN = (TaskState.FINISHED, TaskState.FAILED)  # final states of tasks that ran
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94")
FAILED_COLOR = "#d62728"
PLOT_AFTER = 1.0  # seconds of running before the plot is built (shorter jobs: at the end)
_bokeh_loaded = False
_columns_registered = False


class JsonColumn(list):  # type: ignore[type-arg]
    """A data column holding only ``str``, ``int`` and finite ``float`` values.

    Bokeh's serializer encodes a plain list one ``encode()`` call per element
    (about 1 µs each: 10 columns × 2,000 rows cost ~20 ms per full document).
    Such values encode to themselves, so this column is serialized as one list
    copy. The stream's text and integer columns are of this kind; its times are
    ``array("d")`` columns (see ``new_columns``).
    """


#: Columns of seconds. Kept as ``array("d")``, which bokeh sends as one binary
#: float64 array: 2,000 rows' times formatted as JSON text took 3 ms of the 4 ms
#: spent encoding a final plot, and 40% of its 226 kB.
TIME_COLUMNS = ("left", "right", "duration")
COLUMNS = ("key", "group", "worker", "lane", *TIME_COLUMNS, "color", "alpha", "count")


def new_columns() -> dict[str, Any]:
    """Empty columns for the stream's rows, each of the type that serializes fastest."""
    return {c: array("d") if c in TIME_COLUMNS else JsonColumn() for c in COLUMNS}


def _register_columns() -> None:
    global _columns_registered
    if not _columns_registered:
        from bokeh.core.serialization import Serializer

        Serializer.register(JsonColumn, lambda column, _serializer: list(column))
        _columns_registered = True


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
    """Bokeh task stream of one job.

    ``widget`` is a jupyter_bokeh ``BokehModel``: a placeholder, then ``figure``
    (whose data is ``source``).
    """

    def __init__(self, job: Any, model: JobModel, max_rows: int = MAX_ROWS,
                 widget: bool = True, plot_after: float = PLOT_AFTER) -> None:
        _register_columns()
        self.job = job
        self._model = model
        model.track_spans = True
        self.max_rows = max_rows
        self.rows = 0  # rows taken so far (in the plot, or waiting for it)
        self.tasks = 0  # task runs represented by them
        self.aggregating = False  # past max_rows: bars come from polled counts
        self._counted: Counter[str] = Counter()  # per group, tasks that ran with a bar
        self._failed: Counter[str] = Counter()  # per group, failed tasks with a bar
        self._last: float | None = None  # when the previous refresh looked
        self.colors: dict[str, str] = {}
        self.lanes: dict[str, int] = {}
        self.plot_after = plot_after
        # Rows before the plot exists; then the plot's own columns (stream() extends them).
        self.columns = new_columns()
        self.source: Any = None  # the ColumnDataSource, once the plot is built
        self.figure: Any = None
        # The widget is made here, in the cell that shows the views, with a small
        # placeholder document: a widget made later, from the views' thread, would
        # announce itself (comm_open) in whichever cell runs then.
        self.widget: Any = None
        if widget:
            from bokeh.models import Div

            load_bokehjs()
            self.widget = _kernel_fed_model(Div(text="task stream: starting…",
                                                styles={"color": "#777"}))

    def _build(self) -> None:
        """Make the figure, its data source (the rows so far) and, with ``widget``, the plot.

        A bare ``Plot`` with just the models it shows (one glyph, two axes, one
        grid, five tools) rather than ``figure()``, whose extra glyph copies,
        grid and defaults made building and serializing it about a third dearer:
        for a short job this happens as it ends, while its cell waits.
        """
        from bokeh.models import (
            ColumnDataSource,
            DataRange1d,
            FixedTicker,
            Grid,
            HBar,
            HoverTool,
            LinearAxis,
            PanTool,
            Plot,
            ResetTool,
            SaveTool,
            Title,
            WheelZoomTool,
        )

        job = self.job
        self.source = ColumnDataSource(data=self.columns)
        hover = HoverTool(tooltips=[("task", "@key"), ("group", "@group"), ("worker", "@worker"),
                                    ("start", "@left{0.000} s"),
                                    ("duration", "@duration{0.000} s"), ("tasks", "@count")])
        fig = Plot(height=max(160, 40 + 26 * job.num_workers), sizing_mode="stretch_width",
                   title=Title(text=f"{job.name}: task stream"), toolbar_location="above",
                   x_range=DataRange1d(), y_range=DataRange1d(flipped=True),
                   tools=[PanTool(dimensions="width"), WheelZoomTool(dimensions="width"),
                          ResetTool(), SaveTool(), hover])
        # A white outline tells adjacent bars apart: 40 back-to-back iterations on one
        # lane are 40 bars, not one long task.
        fig.add_glyph(self.source, HBar(y="lane", left="left", right="right", height=0.8,
                                        fill_color="color", fill_alpha="alpha",
                                        line_color="white", line_width=1))
        x_axis = LinearAxis(axis_label="seconds since start")
        fig.add_layout(x_axis, "below")
        fig.add_layout(LinearAxis(ticker=FixedTicker(ticks=[])), "left")
        fig.add_layout(Grid(dimension=0, ticker=x_axis.ticker))
        self.figure = fig
        self._update_axis()
        if self.widget is not None:
            self.widget.update_from_model(fig)

    @property
    def max_rows(self) -> int:
        """How many runs get a bar of their own (and so how many run events the hub takes)."""
        return self._max_rows

    @max_rows.setter
    def max_rows(self, value: int) -> None:
        self._max_rows = value
        self._model.span_limit = value

    def refresh(self, model: JobModel, changes: Changes) -> None:
        now = time.monotonic()
        if self.job.ended_at is not None:
            now = min(now, self.job.ended_at)
        since = self._last if self._last is not None else (self.job.started_at or now)
        self._last = now
        new = new_columns()
        if not self.aggregating:
            runs = changes.spans[:max(0, self.max_rows - self.rows)]
            self._add_runs(new, runs)
            self.aggregating = self.rows + len(runs) >= self.max_rows
        if self.aggregating:  # later runs' events are not drawn (nor, soon, sent)
            self._add_aggregates(new, model, since, now)
        added = len(new["key"])
        self.rows += added
        if self.figure is None:
            for c, column in new.items():
                self.columns[c].extend(column)
            if model.worth_building_live(self.plot_after):
                self._build()
            return
        if not added:
            return
        self._update_axis()
        self.source.stream(new)

    def _add_runs(self, new: dict[str, Any], runs: list[TaskEvent]) -> None:
        """A bar per run, in its worker's lane, built column by column.

        A column at a time (a comprehension over thousands of runs) rather than
        a row at a time: the stream's first ``max_rows`` runs come in a few
        refreshes of a big job, and building them was most of a refresh's cost.
        """
        # A loop that fanned out is drawn as its iterations, not as one bar over them.
        runs = [run for run in runs if not self.job.fanned_out(run.job_id, run.key)]
        if not runs:
            return
        _, keys, groups, states, workers, starts, ends, *_ = zip(*runs, strict=True)
        t0 = self.job.started_at or min(starts)
        # Per worker and per (group, state), a few of each, in order of first run: the
        # lanes and colours are given in that order.
        lane_of, short = {}, {}
        for worker in dict.fromkeys(workers):
            name = worker or "?"
            lane_of[worker] = self.lanes.setdefault(name, len(self.lanes))
            short[worker] = short_worker(name)
        color_of = {(g, st): FAILED_COLOR if st is TaskState.FAILED else self._color(g)
                    for g, st in dict.fromkeys(zip(groups, states, strict=True))}
        job_ids = (run.job_id for run in runs)
        new["key"].extend(map(self.job.describe, job_ids, keys))  # e.g. "iteration 7: 'x'"
        new["group"].extend(groups)
        new["worker"].extend(map(short.__getitem__, workers))
        new["lane"].extend(map(lane_of.__getitem__, workers))
        new["left"].extend(start - t0 for start in starts)
        new["right"].extend(end - t0 for end in ends)
        new["duration"].extend(end - start for start, end in zip(starts, ends, strict=True))
        new["color"].extend(map(color_of.__getitem__, zip(groups, states, strict=True)))
        new["alpha"].extend([0.9] * len(runs))
        new["count"].extend([1] * len(runs))
        ran = [(g, st) for g, st in zip(groups, states, strict=True) if st in _RAN]
        self._counted.update(g for g, _ in ran)
        self._failed.update(g for g, st in ran if st is TaskState.FAILED)
        self.tasks += len(runs)

    def _add_aggregates(self, new: dict[str, Any], model: JobModel, since: float,
                        now: float) -> None:
        """One bar per group for its tasks that ended (per the counts) and have no bar yet."""
        t0 = self.job.started_at or since
        for name, group in model.groups.items():
            ran = group.raw[_FINISHED] + group.raw[_FAILED]
            n = ran - self._counted[name]
            if n <= 0:
                continue
            failed = group.raw[_FAILED] > self._failed[name]
            end = max(now, since)
            lane = self.lanes.setdefault(ALL_WORKERS, len(self.lanes))
            row = (f"{n} tasks", name, ALL_WORKERS, lane, since - t0, end - t0, end - since,
                   FAILED_COLOR if failed else self._color(name), 0.6, n)
            for c, value in zip(COLUMNS, row, strict=True):
                new[c].append(value)
            self._counted[name] = ran
            self._failed[name] = group.raw[_FAILED]
            self.tasks += n

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
        """Put the final figure into the plot's render bundle, which saved widget state holds.

        A job that ended before the plot was built gets it now, with all its rows:
        one serialization. Otherwise the bundle is rebuilt from the final figure.
        """
        if self.figure is None:
            self._build()
        elif self.widget is not None:
            self.widget.update_from_model(self.figure)

    def static_html(self) -> str:
        """The stream as drawn, as a static SVG (for a retired view: no widget, no script)."""
        from kernel_ext.views.stream_picture import task_stream_svg

        columns = self.source.data if self.source is not None else self.columns
        lanes = {short_worker(name): lane for name, lane in self.lanes.items()}
        return task_stream_svg(columns, lanes, f"{self.job.name}: task stream")

    def own_widgets(self) -> list[Any]:
        return [self.widget] if self.widget is not None else []


def _kernel_fed_model(fig: Any) -> Any:
    """A jupyter_bokeh widget that ignores the browser's echo of streamed rows and ranges.

    BokehJS sends every applied ``ColumnsStreamed`` back to the kernel, and
    jupyter_bokeh applies it to the kernel's data source again, so each streamed
    batch would be there twice. Only the kernel writes this plot's data.

    BokehJS also sends the start and end its auto ranges computed (and any pan or
    zoom). Applied in the kernel, they would be fixed in the final render bundle:
    a page reloaded mid-run computes them from the rows streamed since the reload
    only, and the saved plot then showed a slice of the job (one lane, its last
    seconds). The kernel's ranges stay automatic, so the final plot spans every row.

    And it may be closed twice (explicitly, then by ``Widget.__del__``), which
    jupyter_bokeh's own ``close`` does not survive.
    """
    from bokeh.models import Range
    from jupyter_bokeh import BokehModel

    class KernelFedBokehModel(BokehModel):  # type: ignore[misc]
        def _sync_model(self, model: Any, content: dict[str, Any], buffers: list[Any]) -> None:
            if content.get("event") == "jsevent":
                kind = content.get("kind")
                if kind == "ColumnsStreamed":
                    return
                if kind == "ModelChanged" and self._document is not None:
                    target = self._document.get_model_by_id(
                        (content.get("model") or {}).get("id", ""))
                    if isinstance(target, Range):
                        return
            super()._sync_model(model, content, buffers)

        def close(self) -> None:
            """Close once: jupyter_bokeh's ``close`` fails when called again, as
            ``Widget.__del__`` does after an explicit ``close()``."""
            if self.comm is not None:
                super().close()

    return KernelFedBokehModel(fig)
