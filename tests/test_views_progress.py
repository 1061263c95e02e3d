"""Progress widget: final counts per group, failures in red, Cancel, the settled summary."""

from __future__ import annotations

import time

import ipywidgets as w
from views_jobs import fan_in, tiny

from kernel_ext.scheduler import JobStatus
from kernel_ext.views import JobViews, show_views
from kernel_ext.views.progress import ProgressView


def run_with_progress(job, **kwargs) -> tuple[JobViews, ProgressView]:
    views = show_views(job, widgets=True, **kwargs)
    job.start()
    assert views.hub.wait(30), "views did not settle"
    return views, views.hub.views[0]


def test_progress_models_hold_final_counts_per_group() -> None:
    views, progress = run_with_progress(fan_in(20, num_workers=2))
    inc, tot = progress.rows["inc"], progress.rows["total"]
    assert inc.bar.get_state()["value"] == inc.bar.get_state()["max"] == 20
    assert inc.text.get_state()["value"].startswith("20/20")
    assert inc.bar.get_state()["bar_style"] == "success"
    assert tot.bar.get_state()["value"] == 1
    assert progress.overall.get_state()["value"] == 21


def test_widget_settles_into_a_summary_line() -> None:
    job = fan_in(12 - 1, num_workers=2)
    views, progress = run_with_progress(job)
    summary = progress.summary.get_state()["value"]
    assert "12 tasks · " in summary and " s · 2 workers" in summary
    assert "failed" not in summary
    assert progress.widget.children == (progress.summary,)
    assert progress.cancel_button.get_state()["disabled"] is True
    # The container's plain-text form, for frontends without widgets.
    assert views.plain_text().startswith(f"{job.name}: 12 tasks · ")


def test_failed_group_is_red_with_the_error_summary() -> None:
    _views, progress = run_with_progress(fan_in(5, fail=True, keep_going=True, num_workers=2))
    row = progress.rows["boom"]
    assert row.bar.get_state()["bar_style"] == "danger"
    assert "ValueError: bad input" in row.text.get_state()["value"]
    assert "second line" not in row.text.get_state()["value"]
    assert progress.overall.get_state()["bar_style"] == "danger"
    summary = progress.summary.get_state()["value"]
    assert "1 failed" in summary and "1 skipped" in summary
    # Failed groups stay visible under the summary; the others collapse into it.
    assert progress.widget.children == (progress.summary, row.box)
    assert "skipped" in progress.rows["inc"].text.get_state()["value"]


def test_cancel_button_cancels_the_job() -> None:
    def slow(x: int) -> int:
        time.sleep(0.05)
        return x

    from kernel_ext.api import as_graph
    from kernel_ext.scheduler import Job

    job = Job(as_graph({("s", i): (slow, i) for i in range(200)}), [("s", i) for i in range(200)],
              num_workers=2)
    views = show_views(job, widgets=True)
    progress = views.hub.views[0]
    job.start()
    time.sleep(0.1)
    progress.cancel_button.click()
    assert job.wait(10)
    assert job.status is JobStatus.CANCELLED
    assert views.hub.finished.wait(10)
    assert "cancelled" in progress.summary.get_state()["value"]


def test_views_joining_a_finished_job_show_its_final_counts() -> None:
    job = tiny(3000)
    job.start()
    job.wait()
    views = show_views(job, widgets=True)
    assert views.hub.finished.is_set()
    progress = views.hub.views[0]
    assert progress.rows["int"].bar.value == 3000
    assert "3004 tasks" in progress.summary.value


def test_container_is_a_widget_with_the_chosen_views() -> None:
    job = fan_in(3)
    views = show_views(job, widgets=True, progress=True, stream=True, graph=True)
    assert isinstance(views, w.VBox) and len(views.children) == 3
    job.start()
    assert views.hub.wait(30)


def test_a_progress_view_without_a_cancel_button_has_none():
    import threading

    import ipywidgets as w

    import kernel_ext
    from kernel_ext.views import show_views

    gate = threading.Event()
    job = kernel_ext.submit({"a": (gate.wait, 10)}, "a")  # still running while we look
    views = show_views(job, widgets=True, cancel_button=False)
    buttons = []

    def collect(widget):
        if isinstance(widget, w.Button):
            buttons.append(widget)
        for child in getattr(widget, "children", ()):
            collect(child)

    collect(views)
    assert buttons == []
    with_button = show_views(job, widgets=True)
    buttons.clear()
    collect(with_button)
    assert [b.description for b in buttons] == ["Cancel"]
    gate.set()
    job.wait()
