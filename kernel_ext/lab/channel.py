"""The kernel's end of the JupyterLab extension's comm: jobs out, declared commands in.

A frontend opens a comm on :data:`~kernel_ext.lab.protocol.TARGET` with a
``hello``; it gets ``hello`` and a ``snapshot`` back, then, from one publisher
thread per kernel, at most one ``jobs_updated`` per refresh period carrying
every job that changed (and a ``job_ended`` once per job end). However many
tasks a job has, that is one small message per period: the counts come from
the engine's per-group counters, not from task events.

Commands are served on whatever kernel subshell the frontend sent them on
(JupyterLab 4.6 gives a comm a subshell of its own), so *cancel* reaches the
kernel while its main shell runs another cell. ipykernel would otherwise
route a comm's messages to the subshell of the thread that last sent on it
(our publisher thread: the main shell), so the comms opened here route by
the message's own header instead.

Nothing a frontend sends is executed: a message that is not a declared
command is answered with an ``error`` and logged on the kernel's log.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

from kernel_ext.lab.feed import JobFeed, JobInfo, TrackedJob
from kernel_ext.lab.protocol import (
    FINAL_JOB_STATES,
    PROTOCOL_VERSION,
    ProtocolError,
    parse_frontend_message,
)

DEFAULT_REFRESH = 0.5  # seconds between two updates, unless a frontend asks otherwise
MIN_REFRESH, MAX_REFRESH = 0.1, 5.0
KEEPALIVE = 1.0  # a running job whose counts did not move is re-sent this often (elapsed)


class LabChannel:
    """All frontends' comms on one kernel, and the thread that keeps them up to date."""

    def __init__(self, feed: JobFeed, version: str, log: Any) -> None:
        self.feed = feed
        self.version = version
        self.log = log
        self._comms: dict[str, tuple[Any, float]] = {}  # comm id -> (comm, refresh asked)
        self._sent: dict[str, tuple[JobInfo, float]] = {}  # job id -> last info sent, when
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        feed.on_track(self._wake.set)

    # ------------------------------------------------------------- comm target

    def open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        """The comm target: a frontend opened a comm; its open data must be a ``hello``."""
        comm._reply_subshell_for = _route_by_header  # see the module docstring
        try:
            hello = parse_frontend_message(open_msg.get("content", {}).get("data"))
            if hello["type"] != "hello":
                raise ProtocolError(f"a comm opens with a hello, not {hello['type']!r}")
        except ProtocolError as error:
            self._refuse(comm, None, error)
            comm.close()
            return
        comm.on_msg(lambda msg: self._on_message(comm, msg))
        comm.on_close(lambda msg: self._forget(comm))
        self._greet(comm, hello)

    def _on_message(self, comm: Any, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data")
        try:
            command = parse_frontend_message(data)
        except ProtocolError as error:
            request_id = data.get("request_id") if isinstance(data, dict) else None
            self._refuse(comm, request_id if isinstance(request_id, str) else None, error)
            return
        kind = command["type"]
        if kind == "hello":
            self._greet(comm, command)
        elif kind == "get_jobs":
            comm.send({"type": "snapshot", "jobs": self._snapshot()})
            self._reply(comm, command, True, "")
        elif kind == "cancel_job":
            self._cancel(comm, command)
        elif kind == "clear_finished":
            dropped = self.feed.clear_finished()
            self._reply(comm, command, True, f"cleared {dropped} finished jobs")

    def _greet(self, comm: Any, hello: dict[str, Any]) -> None:
        refresh = min(MAX_REFRESH, max(MIN_REFRESH, float(hello["refresh"])))
        with self._lock:
            jobs = self._snapshot()
            now = time.monotonic()
            for info in jobs:  # what a snapshot carries is not news (no job_ended for old jobs)
                self._sent.setdefault(info["id"], (info, now))
            # Sent under the lock: the publisher's next update comes after this snapshot.
            comm.send({"type": "hello", "protocol": PROTOCOL_VERSION,
                       "kernel_ext": self.version, "refresh": refresh})
            comm.send({"type": "snapshot", "jobs": jobs})
            self._comms[comm.comm_id] = (comm, refresh)
            if self._thread is None:
                self._thread = threading.Thread(target=self._publish, daemon=True,
                                                name="kernel_ext-lab-channel")
                self._thread.start()
        self._wake.set()

    def _cancel(self, comm: Any, command: dict[str, Any]) -> None:
        tracked = self.feed.get(command["job_id"])
        if tracked is None:
            self._reply(comm, command, False, f"no job {command['job_id']!r} in this kernel")
        elif tracked.info()["state"] in FINAL_JOB_STATES:
            self._reply(comm, command, False, f"{_label(tracked)} has already ended")
        else:
            tracked.cancel()
            self._wake.set()
            self._reply(comm, command, True, f"{_label(tracked)}: cancel requested")

    def _forget(self, comm: Any) -> None:
        with self._lock:
            self._comms.pop(comm.comm_id, None)
        self._wake.set()

    def _refuse(self, comm: Any, request_id: str | None, error: ProtocolError) -> None:
        self.log.warning("kernel_ext: refused a message from the lab extension: %s", error)
        comm.send({"type": "error", "request_id": request_id, "message": str(error)})

    @staticmethod
    def _reply(comm: Any, command: dict[str, Any], ok: bool, message: str) -> None:
        comm.send({"type": "reply", "request_id": command["request_id"], "ok": ok,
                   "message": message})

    # --------------------------------------------------------------- publisher

    def _snapshot(self) -> list[JobInfo]:
        return [tracked.info() for tracked in self.feed.jobs()]

    def _publish(self) -> None:
        """The publisher thread: one ``jobs_updated`` per period while jobs run."""
        while True:
            with self._lock:
                comms = [comm for comm, _ in self._comms.values()]
                refresh = min((r for _, r in self._comms.values()), default=DEFAULT_REFRESH)
                if not comms:
                    self._thread = None
                    return
                changed, ended, active = self._changes()
            for comm in comms:
                if changed:
                    _send(comm, {"type": "jobs_updated", "jobs": changed})
                for info in ended:
                    _send(comm, {"type": "job_ended", "job": info})
            self._wake.wait(refresh if active else None)
            self._wake.clear()
            if active:
                time.sleep(max(0.0, refresh / 4))  # a burst of wakes still makes one message

    def _changes(self) -> tuple[list[JobInfo], list[JobInfo], bool]:
        """Jobs whose info changed since last sent, those that ended since, any still active."""
        now = time.monotonic()
        changed: list[JobInfo] = []
        ended: list[JobInfo] = []
        active = False
        listed = self.feed.jobs()
        for tracked in listed:
            last = self._sent.get(tracked.id)
            if last is not None and last[0]["state"] in FINAL_JOB_STATES:
                continue  # its end was sent
            info = tracked.info()
            running = info["state"] not in FINAL_JOB_STATES
            active = active or running
            if last is None or _moved(last[0], info) or now - last[1] >= KEEPALIVE:
                changed.append(info)
                self._sent[tracked.id] = (info, now)
                if not running:
                    ended.append(info)
        ids = {tracked.id for tracked in listed}
        for job_id in [job_id for job_id in self._sent if job_id not in ids]:
            del self._sent[job_id]  # cleared or trimmed from the feed
        return changed, ended, active


def _moved(before: JobInfo, after: JobInfo) -> bool:
    """Changed in anything but the clock."""
    return any(before[k] != after[k] for k in after if k not in ("elapsed", "time_left"))


def _send(comm: Any, data: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):  # a comm closing under us must not stop the others
        comm.send(data)


def _label(tracked: TrackedJob) -> str:
    if tracked.number is not None:
        return f"job {tracked.number}"
    return f"the cell In[{tracked.execution_count}]"


def _route_by_header(data: Any, default: str | None) -> str | None:
    """ipykernel's hook for where a comm's incoming message is served: where it was sent."""
    return default
