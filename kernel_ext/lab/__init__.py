"""The kernel side of kernel_ext's JupyterLab extension (the jobs panel, status bar, badges).

- :mod:`~kernel_ext.lab.protocol`: the typed, versioned messages (mirrored in TypeScript);
- :mod:`~kernel_ext.lab.feed`: the cell jobs the panel lists;
- :mod:`~kernel_ext.lab.channel`: the comm target and the thread that sends updates.

``%load_ext kernel_ext`` calls :func:`install`. It registers the comm target
and one *marker*: a comm of that target registered in the kernel without any
frontend, so a frontend's ``comm_info_request`` for the target tells it that
kernel_ext is loaded here before it opens a comm (a frontend that opened the
comm blindly would make kernels without kernel_ext log an error). Kernels
and frontends without the extension carry on as before.
"""

from __future__ import annotations

import uuid
from typing import Any

from kernel_ext.lab.channel import LabChannel
from kernel_ext.lab.feed import JobFeed, TrackedJob
from kernel_ext.lab.protocol import TARGET

__all__ = ["JobFeed", "LabChannel", "TrackedJob", "install", "cell_id_of"]


def install(shell: Any, version: str) -> JobFeed:
    """A job feed for ``shell``, served to lab frontends on the comm target when in a kernel."""
    feed = JobFeed()
    kernel = getattr(shell, "kernel", None)
    manager = getattr(kernel, "comm_manager", None)
    if manager is None:  # terminal IPython: nothing to serve
        return feed
    channel = LabChannel(feed, version, kernel.log)
    manager.register_target(TARGET, channel.open)
    for comm_id, comm in list(manager.comms.items()):  # %reload_ext: one marker only
        if comm.target_name == TARGET and getattr(comm, "_kernel_ext_marker", False):
            manager.comms.pop(comm_id, None)
    from ipykernel.comm import Comm

    marker = Comm(target_name=TARGET, primary=False, comm_id=f"kernel_ext-{uuid.uuid4().hex}")
    marker._kernel_ext_marker = True
    manager.register_comm(marker)
    return feed


def cell_id_of(parent: dict[str, Any] | None) -> str | None:
    """The frontend's id of the cell a request came from (JupyterLab sends ``cellId``)."""
    metadata = (parent or {}).get("metadata") or {}
    cell_id = metadata.get("cellId")
    return cell_id if isinstance(cell_id, str) else None
