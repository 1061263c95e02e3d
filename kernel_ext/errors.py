"""Exceptions raised by kernel_ext's engine.

Graph errors are raised before anything runs, so a bad graph never half-runs.
Each message says what was wrong and what to do about it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence


class GraphError(ValueError):
    """A task graph that cannot be run as given."""


class CycleError(GraphError):
    """The graph has a cycle; ``cycle`` holds the keys on it, first key repeated at the end."""

    def __init__(self, cycle: Sequence[Hashable]) -> None:
        self.cycle = list(cycle)
        path = " -> ".join(repr(k) for k in self.cycle)
        super().__init__(
            f"the task graph has a cycle: {path}. A task cannot depend on itself, "
            "directly or through other tasks; break the cycle by renaming one key."
        )


class MissingKeyError(GraphError, KeyError):
    """A task depends on a key that no task produces."""

    def __init__(self, key: Hashable, needed_by: Hashable) -> None:
        self.key = key
        self.needed_by = needed_by
        super().__init__(
            f"task {needed_by!r} depends on {key!r}, which is not a key of the graph. "
            "Add a task for it, or pass the value itself instead of its key."
        )

    __str__ = ValueError.__str__  # KeyError would repr() the whole message


class UnknownKeyError(GraphError, KeyError):
    """A requested output key is not in the graph."""

    def __init__(self, key: Hashable, known: Sequence[Hashable]) -> None:
        self.key = key
        sample = ", ".join(repr(k) for k in list(known)[:5])
        more = ", ..." if len(known) > 5 else ""
        super().__init__(
            f"requested key {key!r} is not in the graph (it has {len(known)} keys: {sample}{more})."
        )

    __str__ = ValueError.__str__


class NotCallableError(GraphError, TypeError):
    """A task's function is not callable."""

    def __init__(self, key: Hashable, func: object) -> None:
        self.key = key
        super().__init__(
            f"task {key!r} would call {func!r} of type {type(func).__name__}, which is not "
            "callable. A task is (callable, *args); to store a plain value, give the value itself."
        )


class WorkerDiedError(RuntimeError):
    """The process that ran a task died (killed, segfault, ``os._exit``) before returning.

    ``running`` says what it ran (``task 'x'``, or a cell's statement once the cell
    names it, see :meth:`in_statement`); ``detail`` how it died.
    """

    def __init__(self, key: Hashable, detail: str) -> None:
        self.key = key
        self.detail = detail
        self.running = f"task {key!r}"
        self.advice = "Only this task failed; the pool was restarted. Pass retries=N to retry it."
        super().__init__()

    def in_statement(self, running: str, advice: str) -> WorkerDiedError:
        """The same error, told as a cell's: what the worker ran and what is left."""
        self.running = running
        self.advice = advice
        return self

    def __str__(self) -> str:
        return (f"the worker process running {self.running} died before it finished "
                f"({self.detail}). {self.advice}")


class WorkerMemoryError(WorkerDiedError):
    """The worker went over ``Parallel.worker_memory_limit`` and was stopped."""

    def __init__(self, key: Hashable, resident: int, limit: int) -> None:
        super().__init__(key, f"it used {_size(resident)}, over the limit of {_size(limit)} "
                              "per worker (Parallel.worker_memory_limit), and was stopped")
        self.resident = resident
        self.limit = limit
        self.advice = ("Use less memory per task, or raise the limit: "
                       "%config Parallel.worker_memory_limit = '4GB'.")

    def in_statement(self, running: str, advice: str) -> WorkerDiedError:
        super().in_statement(running, advice)
        self.advice = (f"{advice} Use less memory per statement, or raise the limit: "
                       "%config Parallel.worker_memory_limit = '4GB'.")
        return self


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")


class JobCancelledError(RuntimeError):
    """``result()`` of a job that was cancelled before it produced its outputs."""


class NotSendableError(TypeError):
    """A task's arguments or result could not be pickled to or from a worker process."""
