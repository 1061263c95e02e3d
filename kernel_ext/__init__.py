"""kernel_ext: run notebook cells and task graphs in parallel, with live views.

The engine's public surface; the IPython extension entry points come with the magic.
"""

from kernel_ext.api import get, submit
from kernel_ext.errors import (
    CycleError,
    GraphError,
    JobCancelledError,
    MissingKeyError,
    NotCallableError,
    UnknownKeyError,
    WorkerDiedError,
)
from kernel_ext.events import TaskEvent, TaskState
from kernel_ext.graph import Call, Graph, Ref, Task, from_dask
from kernel_ext.scheduler import Job, JobStatus

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
    "from_dask",
    "get",
    "submit",
]
