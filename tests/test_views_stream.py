"""Task stream: one row per task with sane times and worker lanes; aggregation; saved state."""

from __future__ import annotations

import json

from views_jobs import fan_in, tiny

from kernel_ext.views import show_views


def run_stream(job, **kwargs):
    views = show_views(job, widgets=True, progress=False, stream=True, **kwargs)
    job.start()
    assert views.hub.wait(30), "views did not settle"
    return views.hub.views[0]


def test_one_row_per_task_with_sane_times_and_lanes() -> None:
    job = fan_in(30, num_workers=2)
    stream = run_stream(job)
    data = stream.source.data
    assert sorted(data["key"]) == sorted(str(k) for k in job.keys)
    duration = job.ended_at - job.started_at
    for left, right, dur in zip(data["left"], data["right"], data["duration"], strict=True):
        assert 0 <= left <= right <= duration + 1e-6
        assert abs((right - left) - dur) < 1e-9
    assert set(data["lane"]) <= set(range(job.num_workers))
    assert set(data["worker"]) <= {f"worker-{n}" for n in range(job.num_workers)}
    labels = stream.figure.yaxis[0].major_label_overrides
    assert set(labels) == set(data["lane"])
    assert set(data["group"]) == {"inc", "total"}
    assert all(c == 1 for c in data["count"])


def test_failed_runs_are_red() -> None:
    stream = run_stream(fan_in(3, fail=True, keep_going=True))
    data = stream.source.data
    row = data["key"].index("b")
    assert data["color"][row] == "#d62728"
    assert "after" not in data["key"]  # skipped: never ran


def test_big_jobs_aggregate_past_max_rows_and_keep_every_task_counted() -> None:
    job = tiny(20_000, num_workers=2)
    views = show_views(job, widgets=True, progress=False, stream=True)
    stream = views.hub.views[0]
    stream.max_rows = 500
    job.start()
    assert views.hub.wait(60)
    data = stream.source.data
    assert sum(data["count"]) == len(job.keys)
    assert len(data["key"]) < 500 + views.hub.refreshes * 2 * 3
    assert data["count"][:500] == [1] * 500


def test_final_figure_goes_into_the_saved_widget_state() -> None:
    job = fan_in(10)
    stream = run_stream(job)
    bundle = stream.widget.get_state()["render_bundle"]
    text = bundle if isinstance(bundle, str) else json.dumps(bundle)
    # Every task's key is in the serialized document, not only the initial (empty) data.
    for key in job.keys:
        assert json.dumps(str(key))[1:-1] in text


def test_a_plot_built_while_the_job_runs_streams_every_row_once() -> None:
    job = fan_in(300, num_workers=2)  # ~0.3 s: refreshed while it runs
    views = show_views(job, widgets=True, progress=False, stream=True)
    stream = views.hub.views[0]
    stream.plot_after = 0.0  # built at the first refresh, then rows are streamed
    build, built_while_running = stream._build, []
    stream._build = lambda: (built_while_running.append(not job.done()), build())
    job.start()
    assert views.hub.wait(30)
    assert built_while_running == [True]
    data = stream.source.data
    assert sorted(data["key"]) == sorted(str(k) for k in job.keys)
    text = json.dumps(stream.widget.get_state()["render_bundle"])
    for key in job.keys:
        assert json.dumps(str(key))[1:-1] in text


def test_a_short_job_gets_its_plot_only_when_it_ends() -> None:
    job = fan_in(3)
    views = show_views(job, widgets=True, progress=False, stream=True)
    stream = views.hub.views[0]
    assert stream.figure is None
    placeholder = json.dumps(stream.widget.get_state()["render_bundle"])
    assert "task stream: starting" in placeholder
    job.start()
    assert views.hub.wait(30)
    text = json.dumps(stream.widget.get_state()["render_bundle"])
    assert "task stream: starting" not in text and "ColumnDataSource" in text


def test_fast_columns_serialize_as_bokeh_would_encode_the_plain_lists() -> None:
    from bokeh.core.serialization import Serializer

    from kernel_ext.views.stream import JsonColumn, _register_columns

    _register_columns()
    values = ["a", "é\"", 0, 3, -1.5, 0.1 + 0.2, 2**40]
    assert Serializer().encode(JsonColumn(values)) == Serializer().encode(list(values))


def test_the_browsers_ranges_do_not_fix_the_final_plots_extent() -> None:
    """BokehJS echoes its auto ranges' start/end (computed on the rows it has: after a
    page reload mid-run, only the later ones); the saved plot must still span every row."""
    job = fan_in(10)
    stream = run_stream(job)
    fig = stream.figure
    for model_range, start, end in ((fig.x_range, 4.98, 11.6), (fig.y_range, 1.44, 0.56)):
        for attr, value in (("start", start), ("end", end)):
            stream.widget._sync_model(stream.widget, {
                "event": "jsevent", "kind": "ModelChanged", "model": {"id": model_range.id},
                "attr": attr, "new": value}, [])
    stream.finish(stream._model)  # the bundle again, as at the job's end
    bundle = stream.widget.get_state()["render_bundle"]
    bundle = json.loads(bundle) if isinstance(bundle, str) else bundle
    ranges = [m for doc in bundle["docs_json"].values() for m in _models(doc)
              if m.get("name") == "DataRange1d"]
    assert len(ranges) == 2
    assert all("start" not in r.get("attributes", {}) and "end" not in r.get("attributes", {})
               for r in ranges), ranges


def _models(node):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield node
        for value in node.values():
            yield from _models(value)
    elif isinstance(node, list):
        for value in node:
            yield from _models(value)
