"""A job's views stay in the cell that showed them, while other cells run (real kernel)."""

from __future__ import annotations

import os
import queue
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from kernel_session import KernelSession  # noqa: E402

SHOW = """
import time, kernel_ext
import kernel_ext.views.stream  # imported first: on a slow machine the import outlasted the job
dsk = {f"nap-{i}": (time.sleep, 0.25) for i in range(8)}
job = kernel_ext.submit(dsk, list(dsk), num_workers=2)
job.show(stream=True, graph=True)
assert not job.done(), "the job ended before its views were shown: nothing to route"
"""


def _display_id(message: dict) -> str | None:
    return message["content"].get("transient", {}).get("display_id")


def test_views_and_their_final_summary_stay_in_the_cell_that_showed_them():
    with KernelSession() as kernel:
        shown = kernel.execute(SHOW).check_ok()
        other = kernel.execute("print('cell b'); time.sleep(0.6); print('cell b done')").check_ok()
        kernel.run_ok("job.wait()")
        # The final summary is a display update sent by the views' own thread once they
        # settle, with whatever parent that thread has (none while the kernel is idle):
        # frontends route it by display id.
        late = _read_iopub_until_update(kernel, timeout=10)

        shown_msgs = kernel.messages_for(shown.msg_id)
        views = [m for m in shown_msgs if m["msg_type"] == "display_data"]
        assert views, "the views were not displayed in the cell that called show()"
        view_ids = {_display_id(m) for m in views} - {None}
        assert view_ids, "the views' display has no display id to update later"
        opened_in_shown = {m["content"]["comm_id"] for m in shown_msgs
                           if m["msg_type"] == "comm_open"}
        assert opened_in_shown, "no widget was created in the showing cell"

        other_msgs = kernel.messages_for(other.msg_id)
        assert other.stdout == "cell b\ncell b done\n"
        assert not [m for m in other_msgs if m["msg_type"] in ("display_data", "comm_open")]
        assert not [m for m in other_msgs
                    if m["msg_type"] == "stream" and "cell b" not in m["content"]["text"]]

        every = [m for msgs in kernel.by_parent.values() for m in msgs] + late
        updates = [m for m in every if m["msg_type"] == "update_display_data"]
        assert updates and all(_display_id(m) in view_ids for m in updates)
        final_text = updates[-1]["content"]["data"].get("text/plain", "")
        assert "8 tasks" in final_text
        # Widget state changes go by comm id to the widgets the showing cell created.
        changed = {m["content"]["comm_id"] for m in every if m["msg_type"] == "comm_msg"}
        assert changed and changed <= opened_in_shown | _opened_anywhere(every)


def _read_iopub_until_update(kernel: KernelSession, timeout: float) -> list[dict]:
    """Messages read straight from iopub (parentless ones too) until a display update."""
    seen: list[dict] = []
    if any(m["msg_type"] == "update_display_data"
           for msgs in kernel.by_parent.values() for m in msgs):
        return seen
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = kernel.kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            continue
        seen.append(message)
        if message["msg_type"] == "update_display_data":
            return seen
    raise AssertionError("the views never sent their final display update")


def _opened_anywhere(messages: list[dict]) -> set[str]:
    return {m["content"]["comm_id"] for m in messages if m["msg_type"] == "comm_open"}
