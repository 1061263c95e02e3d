"""Overhead of the live views: the same job of tiny tasks with all views on, and with none.

Three runners, interleaved: no observer at all; a no-op observer (which makes
the engine produce its events, the floor for any view); and progress, task
stream and graph together (widgets without a frontend: their messages are
built and counted, then dropped). Widget messages per second are reported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.core import Row, Settings, case, interleave

TARGET = 1.10  # views may cost at most 10% over the same job with none


def tiny_graph(n: int) -> tuple[dict[Any, Any], str]:
    """``n`` instant tasks, summed by thousands, then overall."""
    dsk: dict[Any, Any] = {("x", i): (int, i) for i in range(n)}
    parts = []
    for j in range(0, n, 1000):
        dsk[("s", j)] = (_total, *[("x", i) for i in range(j, min(n, j + 1000))])
        parts.append(("s", j))
    dsk["t"] = (_total, *parts)
    return dsk, "t"


def _total(*xs: int) -> int:
    return sum(xs)


@contextlib.contextmanager
def counting_messages() -> Iterator[list[int]]:
    """Count widget messages (state updates, bokeh patches) sent while inside."""
    import ipywidgets

    sent = [0]
    original = ipywidgets.Widget._send

    def send(self: Any, msg: Any, buffers: Any = None) -> None:
        sent[0] += 1
        original(self, msg, buffers)

    ipywidgets.Widget._send = send  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        ipywidgets.Widget._send = original  # type: ignore[method-assign]


def runner(graph: Any, key: str, mode: str, sent: list[int]) -> Callable[[], Any]:
    from kernel_ext.scheduler import Job
    from kernel_ext.views import show_views

    def run() -> Any:
        job = Job(graph, key)
        if mode == "noop":
            job.subscribe(lambda events: None)
        views = show_views(job, stream=True, graph=True, widgets=True) if mode == "views" else None
        job.start()
        value = job.result()
        if views is not None:
            views.hub.finished.wait()
        return value

    return run


@case("views-overhead")
def views_overhead(s: Settings) -> list[Row]:
    """Live views (progress + stream + graph) vs none on tiny tasks (target at 100k: <= 1.10x)."""
    import bokeh.plotting  # noqa: F401 - import once, outside the timings

    from kernel_ext.api import as_graph

    rows = []
    for n in s.sizes:
        dsk, key = tiny_graph(n)
        graph = as_graph(dsk)
        with counting_messages() as sent:
            t = interleave(
                [(mode, runner(graph, key, mode, sent)) for mode in ("none", "noop", "views")],
                s.repeats,
            )
        messages = sent[0] / s.repeats
        views, none, noop = t.best("views"), t.best("none"), t.best("noop")
        rate = messages / t.median("views")
        # The target is for a job of 100,000 tiny tasks; smaller jobs are
        # reported (the views' fixed setup dominates a 5 ms job) without one.
        targeted = n >= 100_000
        rows.append(Row(
            "views-overhead", f"n={len(dsk):,}", "s", views, none, "no views",
            f"<= {TARGET:.2f}x" if targeted else "",
            (views <= TARGET * none) if targeted else None,
            f"no-op observer alone {noop / none:.2f}x; views/no-op {views / noop:.2f}x; "
            f"{messages:.0f} widget messages per run, {rate:.0f}/s",
        ))
    return rows
