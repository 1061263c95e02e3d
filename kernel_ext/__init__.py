"""kernel_ext: run notebook cells and task graphs in parallel, with live views.

The engine's public surface; the IPython extension entry points come with the magic.
"""

from importlib import metadata as _metadata

from kernel_ext.api import compute, get, submit
from kernel_ext.errors import (
    CycleError,
    GraphError,
    JobCancelledError,
    MissingKeyError,
    NotCallableError,
    UnknownKeyError,
    WorkerDiedError,
    WorkerMemoryError,
)
from kernel_ext.events import TaskEvent, TaskState
from kernel_ext.graph import Call, Graph, Ref, Task, from_dask
from kernel_ext.scheduler import Job, JobStatus

try:
    __version__ = _metadata.version("kernel_ext")
except _metadata.PackageNotFoundError:  # a source tree that is not installed
    __version__ = "0.0.0"


def visualize(
    job_or_graph: object, filename: str | None = None, format: str | None = None
) -> object:
    """Draw a job (coloured by state) or a graph with Graphviz; see :mod:`kernel_ext.views.dot`."""
    from kernel_ext.views.dot import visualize as draw  # lazy: widgets/graphviz only when asked

    return draw(job_or_graph, filename=filename, format=format)


__all__ = [
    "Call",
    "CycleError",
    "Graph",
    "GraphError",
    "Job",
    "JobCancelledError",
    "JobStatus",
    "MissingKeyError",
    "NotCallableError",
    "Ref",
    "Task",
    "TaskEvent",
    "TaskState",
    "UnknownKeyError",
    "WorkerDiedError",
    "WorkerMemoryError",
    "compute",
    "from_dask",
    "get",
    "submit",
    "visualize",
]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the prebuilt JupyterLab extension lives (``jupyter labextension develop``)."""
    return [{"src": "_lab_static", "dest": "kernel-ext"}]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    """``%load_ext kernel_ext``: register the magics and make their defaults configurable."""
    from kernel_ext import lab
    from kernel_ext.background import install
    from kernel_ext.cell import awaiting, cell_text, tracebacks
    from kernel_ext.magics import Parallel

    magics = Parallel(shell=ipython, parent=ipython)
    install(ipython, magics)
    magics.job_feed = lab.install(ipython, __version__)
    tracebacks.install(ipython)
    cell_text.install(ipython)
    awaiting.install(ipython)
    ipython.register_magics(magics)
    if magics not in ipython.configurables:
        ipython.configurables.append(magics)


def __getattr__(name: str) -> object:
    """``kernel_ext.jobs``: the running kernel's background jobs by number (read-only)."""
    if name == "jobs":
        from kernel_ext.background import registry_of

        registry = registry_of(None)
        if registry is None:
            raise AttributeError("kernel_ext.jobs needs the extension: %load_ext kernel_ext")
        return registry
    raise AttributeError(f"module 'kernel_ext' has no attribute {name!r}")
