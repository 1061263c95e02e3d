"""Dask computations inside a ``%%parallel`` statement become part of the cell's job.

``m = x.mean().compute()`` in a ``%%parallel`` cell should show Dask's tasks
in the cell's live views (rows ``from-array``, ``mean_chunk``...; a bar per
task in the stream) and run on the cell's workers, bounded by ``--workers``
with everything else the cell runs. So while a statement of a cell runs,
Dask's default scheduler is :func:`route`: called from that statement, it
runs the graph as a *child job* of the cell's job (see
:mod:`kernel_ext.child_jobs`), which keeps the statement's own row and adds
Dask's groups beside it.

Only Dask's *default* is changed, and only while statements run: a scheduler
the user chose (``scheduler=`` in the call, ``dask.config.set``) wins, and a
default ``distributed.Client`` keeps its computations (``route`` hands them
to it, as Dask would). Dask's config is process-wide while statements run in
threads, so the default is installed when the first statement enters and
taken away when the last one leaves; a computation from any other thread
meanwhile (a later plain cell, a thread the user started) runs as Dask would
run it by itself. Cells on ``--processes`` keep Dask's own scheduler: Dask
tasks may hold what cannot travel to a worker process.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Hashable
from typing import Any

from kernel_ext.dask_graphs import graph_from_dask
from kernel_ext.scheduler import Job, drop_task_notes

_statement: contextvars.ContextVar[tuple[Job, Hashable] | None] = contextvars.ContextVar(
    "kernel_ext_dask_statement", default=None)
_lock = threading.Lock()
_inside = 0  # statements running with route() as Dask's default
_installed = False  # route() was installed by us (the user had set no scheduler)


def join(job: Job, key: Hashable) -> contextvars.Token[Any] | None:
    """A statement (task ``key`` of the cell's ``job``) starts: route its Dask computations
    to the job. Give what it returns to :func:`leave` when the statement ends. (Not a
    context manager: its frames would show in the statement's traceback.)"""
    dask = sys.modules.get("dask")
    if dask is None or job.backend == "processes" or not hasattr(dask, "config"):
        return None
    token = _statement.set((job, key))
    _enter(dask)
    return token


def leave(token: contextvars.Token[Any] | None) -> None:
    if token is None:
        return
    _statement.reset(token)
    _leave(sys.modules["dask"])


def route(dsk: Any, keys: Any, **options: Any) -> Any:
    """Dask's default scheduler while ``%%parallel`` statements run (see the module doc)."""
    here = _statement.get()
    client_get = _default_client_get()
    if here is None or client_get is not None:
        if client_get is not None:
            return client_get(dsk, keys, **options)
        from dask.threaded import get

        return get(dsk, keys, **options)
    job, key = here
    child = Job(graph_from_dask(dsk), keys, parent=job, parent_key=key, replaces_task=False,
                name=f"Dask computation of {job.group_of(key)}")
    try:
        return child.start().result()
    except BaseException as error:
        drop_task_notes(error)  # raised as Dask raises it: the user's own error
        raise


def _default_client_get() -> Any:
    """``get`` of the default ``distributed.Client``, if the user made one."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import default_client

        return default_client().get
    except (ImportError, ValueError):
        return None


def _enter(dask: Any) -> None:
    global _inside, _installed
    with _lock:
        if _inside == 0 and dask.config.get("scheduler", None) is None:
            dask.config.set(scheduler=route)
            _installed = True
        _inside += 1


def _leave(dask: Any) -> None:
    global _inside, _installed
    with _lock:
        _inside -= 1
        if _inside == 0 and _installed:
            _installed = False
            if dask.config.get("scheduler", None) is route:
                dask.config.config.pop("scheduler", None)
