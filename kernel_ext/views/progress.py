"""Progress bars: one per task group plus an overall bar, a Cancel button, a final summary.

All state is in ipywidgets models (bar values, styles, texts), so a notebook
saved with widget state shows the final bars and summary.
"""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets as w

from kernel_ext.events import TaskState
from kernel_ext.views.model import NO_CHANGES, Changes, GroupCounts, JobModel

_ENDED = (TaskState.FINISHED, TaskState.FAILED, TaskState.CANCELLED, TaskState.SKIPPED)


def fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(seconds + 0.5), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def summary_text(job: Any, model: JobModel) -> str:
    """``12 tasks · 3.2 s · 2 workers``, plus failed/skipped/cancelled counts if any."""
    totals = model.totals()
    n = job.task_count  # a loop that fanned out counts as its iterations
    parts = [f"{n} task{'s' if n != 1 else ''}"]
    if job.started_at is not None:
        end = job.ended_at if job.ended_at is not None else time.monotonic()
        parts.append(fmt_seconds(end - job.started_at))
    parts.append(f"{job.num_workers} worker{'s' if job.num_workers != 1 else ''}")
    for state in (TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED):
        if totals[state]:
            parts.append(f"{totals[state]} {state.value}")
    return " · ".join(parts)


class _Looks:
    """Layouts and styles shared by all the widgets of one progress view.

    Each ipywidgets widget otherwise makes its own ``Layout`` and style
    widgets: two more models per label, bar or text, so three times the
    widgets, and their creation was most of the view's cost (before the job
    starts). A widget model may be shared by any number of widgets.
    """

    def __init__(self) -> None:
        from ipywidgets.widgets.widget_int import ProgressStyle
        from ipywidgets.widgets.widget_string import HTMLStyle, LabelStyle

        self.plain = w.Layout()
        self.name = w.Layout(width="12em")
        self.fill = w.Layout(flex="1 1 auto")
        self.text = w.Layout(width="auto")
        self.bar = ProgressStyle()
        self.html = HTMLStyle()
        self.label = LabelStyle()

    def html_widget(self, value: str = "", layout: w.Layout | None = None) -> w.HTML:
        return w.HTML(value, layout=layout or self.plain, style=self.html)

    def progress_bar(self, total: int) -> w.IntProgress:
        return w.IntProgress(value=0, min=0, max=max(total, 1), bar_style="info",
                             layout=self.fill, style=self.bar)

    def box(self, children: list[w.Widget], kind: type[w.Box] = w.HBox) -> w.Box:
        return kind(children, layout=self.plain)


class _GroupRow:
    """Label, bar and counts of one group."""

    def __init__(self, name: str, total: int, looks: _Looks) -> None:
        self.label = w.Label(name, layout=looks.name, style=looks.label)
        self.label.tooltip = name
        self.bar = looks.progress_bar(total)
        self.text = looks.html_widget(layout=looks.text)
        self.box = looks.box([self.label, self.bar, self.text])

    def show(self, group: GroupCounts, final: bool) -> None:
        counts = group.counts
        ended = sum(counts[s] for s in _ENDED)
        self.bar.max = max(group.total, 1)  # a fanned-out loop grows to its iterations
        parts = [f"{counts[TaskState.FINISHED]}/{group.total}"]
        if counts[TaskState.RUNNING] and not final:
            parts.append(f"{counts[TaskState.RUNNING]} running")
            if group.started is not None and 0 < ended < group.total:
                elapsed = time.monotonic() - group.started
                parts.append(f"~{fmt_seconds(elapsed * (group.total - ended) / ended)} left")
        for state in (TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED):
            if counts[state]:
                parts.append(f"{counts[state]} {state.value}")
        text = html.escape(" · ".join(parts))
        if counts[TaskState.FAILED]:
            self.bar.bar_style = "danger"
            text += f' <span style="color:#c62828">{html.escape(group.error or "failed")}</span>'
        elif final and counts[TaskState.FINISHED] == group.total:
            self.bar.bar_style = "success"
        elif final:
            self.bar.bar_style = "warning"
        self.bar.value = ended
        self.text.value = text


class ProgressView:
    """The progress widget of one job; ``widget`` is what gets displayed."""

    def __init__(self, job: Any, model: JobModel, cancel_button: bool = True) -> None:
        self.job = job
        looks = _Looks()
        self.title = looks.html_widget(f"<b>{html.escape(job.name)}</b>")
        self.overall = looks.progress_bar(job.task_count)
        self._looks = looks
        self.overall_text = looks.html_widget()
        self.cancel_button = w.Button(description="Cancel", icon="stop",
                                      button_style="warning", layout=w.Layout(width="8em"))
        self.cancel_button.on_click(self._on_cancel)
        self.rows = {name: _GroupRow(name, g.total, looks) for name, g in model.groups.items()}
        self.summary = looks.html_widget()
        self.overall_box = looks.box([self.overall, self.overall_text]
                                     + ([self.cancel_button] if cancel_button else []))
        self.widget = looks.box(
            [self.title, self.overall_box, *(row.box for row in self.rows.values())], w.VBox)
        self.widget.add_class("kernel-ext-progress")
        self.refresh(model, NO_CHANGES)

    def _on_cancel(self, _button: w.Button) -> None:
        self.cancel_button.disabled = True
        self.cancel_button.description = "Cancelling"
        self.job.cancel()

    def refresh(self, model: JobModel, changes: Changes) -> None:
        totals = model.totals()
        ended = sum(totals[s] for s in _ENDED)
        self.overall.max = max(sum(totals.values()), 1)
        self.overall.value = ended
        if any(g.counts[TaskState.FAILED] for g in model.groups.values()):
            self.overall.bar_style = "danger"
        self.overall_text.value = html.escape(self._timing(ended))
        for name in changes.groups if changes is not NO_CHANGES else list(model.groups):
            if name not in self.rows:  # a group only a child job has
                self._add_row(name, model.groups[name])
            self.rows[name].show(model.groups[name], final=False)

    def _add_row(self, name: str, group: GroupCounts) -> None:
        row = self.rows[name] = _GroupRow(name, group.total, self._looks)
        self.widget.children = [*self.widget.children, row.box]

    def _timing(self, ended: int) -> str:
        job, n = self.job, self.job.task_count
        text = f"{ended}/{n}"
        if job.started_at is None:
            return text
        elapsed = time.monotonic() - job.started_at
        text += f" · {fmt_seconds(elapsed)}"
        if 0 < ended < n:
            text += f" · ~{fmt_seconds(elapsed * (n - ended) / ended)} left"
        return text

    def finish(self, model: JobModel) -> None:
        """Settle into one summary line, keeping failed groups (red, with their error) below it."""
        self.refresh(model, NO_CHANGES)
        for row in self.rows.values():
            row.show(model.groups[row.label.value], final=True)
        totals = model.totals()
        ok = totals[TaskState.FINISHED] == sum(totals.values())
        self.overall.bar_style = "success" if ok else (
            "danger" if totals[TaskState.FAILED] else "warning")
        self.cancel_button.disabled = True
        color = "#2e7d32" if ok else "#c62828"
        self.summary.value = (f'<span style="color:{color}">{"✔" if ok else "✘"}</span> '
                              f"<b>{html.escape(self.job.name)}</b>: "
                              f"{html.escape(summary_text(self.job, model))}")
        failed = [row.box for row in self.rows.values() if row.bar.bar_style == "danger"]
        self.widget.children = [self.summary, *failed]

    def static_html(self) -> str:
        """The final summary and failed groups as plain HTML, for a retired view."""
        rows = [self.summary.value or self.title.value]
        for row in self.rows.values():
            if row.bar.bar_style == "danger":
                share = 100 * row.bar.value / max(row.bar.max, 1)
                rows.append(
                    '<div style="display:flex;gap:8px;align-items:center">'
                    f'<span style="width:12em;overflow:hidden;white-space:nowrap">'
                    f"{html.escape(row.label.value)}</span>"
                    '<span style="flex:1 1 auto;height:10px;background:#eee">'
                    f'<span style="display:block;height:10px;width:{share:.0f}%;'
                    'background:#d9534f"></span></span>'
                    f"<span>{row.text.value}</span></div>")
        return "".join(f"<div>{row}</div>" for row in rows)

    def own_widgets(self) -> list[w.Widget]:
        """Also the rows no longer shown (a finished view keeps only failed ones)."""
        return [self.widget, self.title, self.overall_box, self.cancel_button, self.summary,
                *(row.box for row in self.rows.values())]
