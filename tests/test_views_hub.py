"""The one throttled observer, and the text bar for terminals."""

from __future__ import annotations

import time

import pytest
from views_jobs import fan_in, tiny

from kernel_ext.events import TaskState
from kernel_ext.views import show_views
from kernel_ext.views.hub import ViewHub, settle_finished_views
from kernel_ext.views.text import TextProgress


def test_refreshes_are_bounded_by_duration_times_rate() -> None:
    job = tiny(20_000, num_workers=2)
    views = show_views(job, widgets=True, stream=True, graph=True, rate=4.0)
    t0 = time.monotonic()
    job.start()
    assert views.hub.wait(60)
    duration = time.monotonic() - t0
    refreshes = views.hub.refreshes
    assert 1 <= refreshes <= duration * 4.0 + 2, (refreshes, duration)
    assert views.hub.views[0].overall.value == len(job.keys)


def test_refreshes_keep_time_moving_while_no_events_arrive() -> None:
    def sleepy(x: int) -> int:
        time.sleep(0.8)
        return x

    from kernel_ext.api import as_graph
    from kernel_ext.scheduler import Job

    job = Job(as_graph({"s": (sleepy, 1)}), "s")
    views = show_views(job, widgets=True, rate=10.0)
    job.start()
    time.sleep(0.5)
    assert views.hub.refreshes >= 3  # ticks without events: the elapsed time advances
    assert " s" in views.hub.views[0].overall_text.value
    assert views.hub.wait(10)


def test_one_observer_per_job_and_it_leaves_at_the_end() -> None:
    job = fan_in(5)
    views = show_views(job, widgets=True, stream=True, graph=True)
    assert len(job._events._observers) == 1
    job.start()
    assert views.hub.wait(30)
    assert job._events._observers == []


def test_a_failing_view_does_not_break_the_others() -> None:
    class Broken:
        def refresh(self, model, changes):
            raise RuntimeError("boom")

        def finish(self, model):
            raise RuntimeError("boom")

    class Recorder:
        finished = False

        def refresh(self, model, changes):
            pass

        def finish(self, model):
            self.finished = True

    job = fan_in(3)
    recorder = Recorder()
    hub = ViewHub(job).start([Broken(), recorder])
    job.start()
    assert hub.wait(30) and recorder.finished


def test_settle_waits_for_views_of_ended_jobs() -> None:
    job = fan_in(3)
    views = show_views(job, widgets=True)
    job.start()
    job.wait()
    settle_finished_views()
    assert views.hub.finished.is_set()
    assert views.hub.views[0].overall.value == len(job.keys)


def test_without_a_kernel_show_views_draws_a_text_bar_on_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job = tiny(5000)
    text = show_views(job)  # pytest has no IPython kernel
    assert isinstance(text, TextProgress)
    job.start()
    assert text_hub_done(job)
    err = capsys.readouterr().err
    assert "\r" in err and err.endswith("\n")
    last = err.rstrip("\n").split("\r")[-1].strip()
    assert last.startswith(f"{job.name}: 5006 tasks · ") and "worker" in last
    assert "\n" not in err.rstrip("\n")  # one line, redrawn in place


def text_hub_done(job, timeout: float = 30) -> bool:
    job.wait(timeout)
    settle_finished_views(timeout=timeout)
    return True


def test_progress_and_graph_take_no_events_and_the_stream_stops_after_its_rows() -> None:
    job = tiny(5000, num_workers=2)
    views = show_views(job, widgets=True, progress=True, graph=True)
    assert job._events.wanted == frozenset()  # counts are polled, not followed
    job.start()
    assert views.hub.wait(60)
    assert views.hub.views[0].rows["int"].bar.value == 5000

    job = tiny(20_000, num_workers=2)
    views = show_views(job, widgets=True, progress=False, stream=True)
    stream = views.hub.views[0]
    stream.max_rows = 300
    assert job._events.wanted == {TaskState.FINISHED, TaskState.FAILED, TaskState.RETRIED}
    job.start()
    assert views.hub.wait(60)
    assert job._events._observers == []
    assert views.hub._span_events < 20_000 // 2  # it stopped asking long before the end
    assert sum(stream.source.data["count"]) == len(job.keys)


def test_costly_views_are_built_live_only_for_a_job_that_will_run_a_while() -> None:
    """A job with most of its work ahead is worth a live plot; one that has almost
    ended is not, until it has run three times the delay (a last task may be long)."""
    import threading

    from kernel_ext.api import as_graph
    from kernel_ext.scheduler import Job
    from kernel_ext.views.model import JobModel

    def nap(i: int) -> int:
        time.sleep(0.05)
        return i

    naps = {("nap", i): (nap, i) for i in range(40)}
    ahead = Job(as_graph(naps), list(naps), num_workers=1)  # 2 s of naps
    model = JobModel(ahead)
    assert not model.worth_building_live(0.5)  # not started
    ahead.start()
    time.sleep(0.6)
    model.poll()
    assert model.worth_building_live(0.5)  # ~12 of 40 ended: ~1.4 s to go
    ahead.cancel()

    gate = threading.Event()
    dsk = {("x", i): (abs, -i) for i in range(300)}
    dsk["last"] = (gate.wait, 30)
    almost = Job(as_graph(dsk), list(dsk), num_workers=2)
    model = JobModel(almost)
    almost.start()
    try:
        time.sleep(0.6)
        model.poll()
        assert model.ended() == 300 and not model.worth_building_live(0.5)
        time.sleep(1.0)  # past 3 x 0.5 s: the long last task may go on
        assert model.worth_building_live(0.5)
    finally:
        gate.set()
    assert almost.wait(10)
