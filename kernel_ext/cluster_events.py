"""Task events from a dask.distributed cluster's own scheduler, for kernel_ext's views.

A job on the ``dask`` backend hands its graph to the cluster, whose scheduler
decides where and when each task runs. What the views show must be what the
cluster did, not a guess from the kernel: so a small scheduler plugin
(:class:`TaskEventsPlugin`, registered once per cluster by the kernel) watches
the scheduler's transitions of kernel_ext's tasks (their keys carry
``MARKER``), and publishes them in batches every ``FLUSH_SECONDS`` on the
scheduler's event topic ``TOPIC``, which the kernel's client subscribes to.

Each event is a small dict (msgpack-friendly, as the event log requires):
the key, the new state (``processing``, ``memory``, ``erred``), the worker's
address and thread, and, when the task ended, its compute start and stop (the
worker's wall clock), or the error as the worker serialized it, and its text.

The plugin runs inside the scheduler process, so kernel_ext must be importable
there (it is for clusters started from the kernel's environment: ``dask
scheduler``, ``LocalCluster``).
"""

from __future__ import annotations

from typing import Any

try:
    from distributed.diagnostics.plugin import SchedulerPlugin
except ImportError:  # without distributed: importable, and connect() says what to install
    SchedulerPlugin = object  # type: ignore[assignment,misc]

TOPIC = "kernel_ext-task-events"
MARKER = "-kx"  # in the name of every task key kernel_ext sends
FLUSH_SECONDS = 0.1
PLUGIN_NAME = "kernel_ext-task-events"


def _name_of(key: Any) -> str:
    return key[0] if isinstance(key, tuple) and key and isinstance(key[0], str) else str(key)


class TaskEventsPlugin(SchedulerPlugin):
    """In the scheduler: publish transitions of kernel_ext's tasks on ``TOPIC``."""

    name = PLUGIN_NAME

    def __init__(self) -> None:
        self.scheduler: Any = None
        self._pending: list[dict[str, Any]] = []
        self._flusher: Any = None

    async def start(self, scheduler: Any) -> None:
        from tornado.ioloop import PeriodicCallback

        self.scheduler = scheduler
        self._flusher = PeriodicCallback(self._flush, FLUSH_SECONDS * 1000)
        self._flusher.start()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.stop()
        self._flush()

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        if finish not in ("processing", "memory", "erred") or MARKER not in _name_of(key):
            return
        event: dict[str, Any] = {"key": key, "state": finish}
        if finish == "processing":
            task = self.scheduler.tasks.get(key)
            worker = getattr(task, "processing_on", None) if task is not None else None
            event["worker"] = getattr(worker, "address", None)
        elif start == "processing":
            event["worker"] = kwargs.get("worker")
            event["thread"] = kwargs.get("thread")
            computes = [s for s in kwargs.get("startstops") or () if s.get("action") == "compute"]
            if computes:
                event["start"], event["stop"] = computes[0]["start"], computes[-1]["stop"]
            if finish == "erred":
                event["error"] = str(kwargs.get("exception_text") or "")
                exception = kwargs.get("exception")  # as the worker serialized it
                header = getattr(exception, "header", None)
                if header is not None:
                    event["exception"] = {"header": header,
                                          "frames": [bytes(f) for f in exception.frames]}
        else:  # a task that erred because a dependency did: the engine skips it itself
            return
        self._pending.append(event)

    def _flush(self) -> None:
        if self._pending and self.scheduler is not None:
            batch, self._pending = self._pending, []
            self.scheduler.log_event(TOPIC, {"events": batch})
