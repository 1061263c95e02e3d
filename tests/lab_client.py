"""A frontend of kernel_ext's lab protocol, speaking raw Jupyter messages as JupyterLab does.

It discovers kernel_ext with ``comm_info_request``, asks the kernel (on the
control channel) for a subshell of its own, as JupyterLab 4.6 does for a
comm, and opens the comm and sends commands on that subshell.
"""

from __future__ import annotations

import queue
import time
import uuid
from typing import Any

from kernel_session import KernelSession

TARGET = "kernel_ext.jobs"


class LabClient:
    """One frontend's comm on a real kernel."""

    def __init__(self, session: KernelSession, subshell: bool = True) -> None:
        self.session = session
        self.kc = session.kc
        self.subshell_id: str | None = self._create_subshell() if subshell else None
        self.comm_id = uuid.uuid4().hex
        self._seen = 0  # how many of the session's comm messages were read

    # --------------------------------------------------------------- messages

    def comm_info(self) -> dict[str, Any]:
        msg = self.kc.session.msg("comm_info_request", {"target_name": TARGET})
        self.kc.shell_channel.send(msg)
        return self._shell_reply(msg["header"]["msg_id"])["content"]["comms"]

    def open(self, data: dict[str, Any] | None = None, refresh: float = 0.2) -> None:
        hello = data if data is not None else {
            "type": "hello", "protocol": 1, "client": "tests", "refresh": refresh}
        self._send("comm_open", {"comm_id": self.comm_id, "target_name": TARGET, "data": hello})

    def send(self, data: Any) -> None:
        self._send("comm_msg", {"comm_id": self.comm_id, "data": data})

    def request(self, kind: str, **fields: Any) -> str:
        request_id = uuid.uuid4().hex
        self.send({"type": kind, "request_id": request_id, **fields})
        return request_id

    def close(self) -> None:
        self._send("comm_close", {"comm_id": self.comm_id, "data": {}})

    def received(self) -> list[dict[str, Any]]:
        """Every message the kernel sent on this comm so far (its ``data``), in order."""
        self._pump(0.05)
        return [m["content"]["data"] for m in self.session.comm_messages
                if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == self.comm_id]

    def wait_for(self, predicate: Any, timeout: float = 20.0, what: str = "") -> dict[str, Any]:
        """The first message from now on (or already seen, past ``since``) satisfying it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.received()
            for data in messages[self._seen:]:
                self._seen += 1
                if predicate(data):
                    return data
        raise TimeoutError(f"no comm message {what} within {timeout} s; "
                           f"got: {[d.get('type') for d in self.received()]}")

    def reply_to(self, request_id: str, timeout: float = 20.0) -> dict[str, Any]:
        return self.wait_for(lambda d: d.get("request_id") == request_id, timeout,
                             f"answering {request_id}")

    def job(self, predicate: Any, timeout: float = 20.0) -> dict[str, Any]:
        """The next JobInfo (from an update, snapshot or end) satisfying ``predicate``."""
        found: list[dict[str, Any]] = []

        def has(data: dict[str, Any]) -> bool:
            jobs = data.get("jobs") or ([data["job"]] if "job" in data else [])
            found[:] = [job for job in jobs if predicate(job)]
            return bool(found)

        self.wait_for(has, timeout, "with the job asked for")
        return found[0]

    # --------------------------------------------------------------- plumbing

    def _send(self, msg_type: str, content: dict[str, Any]) -> None:
        msg = self.kc.session.msg(msg_type, content)
        if self.subshell_id is not None:
            msg["header"]["subshell_id"] = self.subshell_id
        self.kc.shell_channel.send(msg)

    def _create_subshell(self) -> str:
        msg = self.kc.session.msg("create_subshell_request", {})
        self.kc.control_channel.send(msg)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reply = self.kc.get_control_msg(timeout=20)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return str(reply["content"]["subshell_id"])
        raise TimeoutError("no create_subshell_reply")

    def _shell_reply(self, msg_id: str, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = self.kc.get_shell_msg(timeout=0.2)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply
        raise TimeoutError(f"no shell reply to {msg_id}")

    def _pump(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.session._keep(self.kc.get_iopub_msg(timeout=0.02))
            except queue.Empty:
                if time.monotonic() >= deadline:
                    return
