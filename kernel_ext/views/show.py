"""Choosing and displaying a job's views: widgets in a notebook, a text bar elsewhere."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from kernel_ext.views.graph import GraphView
from kernel_ext.views.hub import DEFAULT_RATE, ViewHub, settle_finished_views
from kernel_ext.views.progress import ProgressView, summary_text
from kernel_ext.views.retire import close_widgets, retirement
from kernel_ext.views.text import TextProgress


def in_widget_frontend() -> bool:
    """True inside a Jupyter kernel (ZMQInteractiveShell), where widgets can have a frontend."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class JobViews(w.VBox):
    """The container of a job's views.

    Displayed with a display id; when the job ends that output is updated with
    the same widget plus a final ``text/plain`` summary, so a frontend without
    widgets (or nbconvert to text) shows the outcome rather than a widget repr.
    Later, once newer views have finished (:mod:`kernel_ext.views.retire`), it is
    updated to a static picture and its widgets are closed.
    """

    def __init__(self, children: list[w.Widget], hub: ViewHub, **kwargs: Any) -> None:
        super().__init__(children, **kwargs)
        self.hub = hub
        self.add_class("kernel-ext-views")
        self._handles: list[Any] = []
        self.retired = False
        self._static: dict[str, Any] = {}  # the picture, once retired

    def plain_text(self) -> str:
        job = self.hub.job
        if not self.hub.final:
            return f"{job.name}: running, {job.task_count} tasks"
        return f"{job.name}: {summary_text(job, self.hub.model)}"

    def _bundle(self) -> dict[str, Any]:
        return {
            "text/plain": self.plain_text(),
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.model_id,
            },
        }

    def static_bundle(self) -> dict[str, Any]:
        """The final views as plain HTML (and text): what a retired output shows."""
        parts = "".join(f'<div style="margin:4px 0">{view.static_html()}</div>'
                        for view in self.hub.views)
        return {"text/plain": self.plain_text(),
                "text/html": f'<div class="kernel-ext-views kernel-ext-retired">{parts}</div>'}

    def retire(self) -> None:
        """Show the final picture in place of the widgets, then close every widget."""
        if self.retired:
            return
        self.retired = True
        bundle = self._static = self.static_bundle()
        for handle in self._handles:
            handle.update(bundle, raw=True)
        roots: list[w.Widget] = [self]
        for view in self.hub.views:
            roots.extend(view.own_widgets())
        close_widgets(roots)
        self._handles.clear()
        self.hub.views = []

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self.retired:  # shown again after its widgets were closed: the picture
            display(self._static, raw=True)
            return
        handle = display(self._bundle(), raw=True, display_id=True)
        if handle is None:
            return
        self._handles.append(handle)
        if len(self._handles) == 1:
            self.hub.add_finish_callback(self._finished)

    def _finished(self) -> None:
        for handle in self._handles:
            handle.update(self._bundle(), raw=True)
        retirement.finished(self)


def show_views(job: Any, progress: bool = True, stream: bool = False, graph: bool = False,
               *, rate: float = DEFAULT_RATE, widgets: bool | None = None,
               cancel_button: bool = True) -> Any:
    """Create live views of ``job`` fed by one throttled observer, and return their container.

    In a Jupyter kernel this is a :class:`JobViews` widget (display it); elsewhere
    (terminal IPython, scripts) it is a :class:`TextProgress` writing to stderr.
    ``widgets`` forces one or the other. ``cancel_button=False`` leaves the
    button out where a click could not arrive in time (a foreground cell).
    """
    if widgets is None:
        widgets = in_widget_frontend()
    hub = ViewHub(job, rate=rate)
    if not widgets:
        text = TextProgress(job, hub.model)
        hub.start([text])
        return text
    views: list[Any] = []
    if progress:
        views.append(ProgressView(job, hub.model, cancel_button=cancel_button))
    if stream:
        from kernel_ext.views.stream import TaskStreamView

        views.append(TaskStreamView(job, hub.model))
    if graph:
        views.append(GraphView(job, hub.model))
    hub.start(views)
    return JobViews([v.widget for v in views], hub)


def display_views(job: Any, progress: bool = True, stream: bool = False,
                  graph: bool = False, cancel_button: bool = True) -> None:
    """Show the views in the current cell (``Job.show``); in a terminal, start the text bar."""
    views = show_views(job, progress=progress, stream=stream, graph=graph,
                       cancel_button=cancel_button)
    if isinstance(views, w.Widget):
        from IPython import get_ipython
        from IPython.display import display

        install_settle_hook(get_ipython())
        display(views)


def install_settle_hook(shell: Any) -> None:
    """Make cells that wait on a job end with its views final (see settle_finished_views)."""
    if shell is None or getattr(shell, "_kernel_ext_settle_hook", False):
        return
    shell.events.register("post_run_cell", settle_finished_views)
    shell._kernel_ext_settle_hook = True
