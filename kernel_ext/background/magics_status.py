"""``%parallel status``: the kernel's threads and worker processes, and their memory."""

from __future__ import annotations

import html
import os
import threading
from dataclasses import dataclass

from kernel_ext.cluster_run import local_worker_pids
from kernel_ext.process_pool import worker_pids
from kernel_ext.thread_pool import SharedThreadPool, shared_pool


def resident_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` in bytes; None if it is gone or cannot be read.

    Read from ``/proc/<pid>/statm`` on Linux; elsewhere from psutil when installed.
    """
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        pass
    if os.path.isdir("/proc/self"):
        return None  # Linux, and the process is gone
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except psutil.Error:
        return None


@dataclass(frozen=True)
class Worker:
    """One worker process as ``%parallel status`` lists it."""

    pid: int
    kind: str  # "process" (a --processes slot) or "local cluster" (--cluster local)
    resident: int | None


class StatusTable:
    """What ``%parallel status`` shows: text for terminals, HTML for notebooks."""

    COLUMNS = ("worker", "pid", "memory")

    def __init__(self, pool: SharedThreadPool = shared_pool) -> None:
        self.kernel_pid = os.getpid()
        self.kernel_resident = resident_bytes(self.kernel_pid)
        self.kernel_threads = threading.active_count()
        self.pool_threads = pool.thread_count
        self.pool_idle = pool.idle_count
        self.pool_max = pool.max_threads
        self.workers = [
            Worker(pid, kind, memory)
            for kind, pids in (("process", worker_pids()), ("local cluster", local_worker_pids()))
            for pid in pids
            if (memory := resident_bytes(pid)) is not None  # None: ended meanwhile
        ]

    @property
    def workers_resident(self) -> int:
        return sum(worker.resident or 0 for worker in self.workers)

    def _lines(self) -> list[str]:
        busy = self.pool_threads - self.pool_idle
        return [
            f"kernel: pid {self.kernel_pid}, {_size(self.kernel_resident)} resident, "
            f"{self.kernel_threads} threads",
            f"thread pool: {self.pool_threads} threads ({busy} busy, {self.pool_idle} idle), "
            f"at most {self.pool_max}",
            (f"worker processes: {len(self.workers)}, {_size(self.workers_resident)} resident"
             if self.workers else "no worker processes")
            + f"; memory limit per worker {_limit_text()}",
        ]

    def _rows(self) -> list[tuple[str, str, str]]:
        return [(w.kind, str(w.pid), _size(w.resident)) for w in self.workers]

    def __repr__(self) -> str:
        lines = self._lines()
        if self.workers:
            table = [self.COLUMNS, *self._rows()]
            widths = [max(len(row[i]) for row in table) for i in range(len(self.COLUMNS))]
            lines += [
                "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                for row in table
            ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        text = "".join(f"<p>{html.escape(line)}</p>" for line in self._lines())
        if not self.workers:
            return text
        head = "".join(f"<th>{c}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._rows()
        )
        total = f"<tr><td>total</td><td></td><td>{_size(self.workers_resident)}</td></tr>"
        return f"{text}<table class='kernel-ext-status'><tr>{head}</tr>{body}{total}</table>"


def _size(count: int | None) -> str:
    if count is None:
        return "n/a"
    return f"{count / 2**20:.1f} MiB"


def _limit_text() -> str:
    from kernel_ext.memory_guard import worker_memory_limit

    limit = worker_memory_limit()
    return "none" if limit is None else f"{_size(limit)} (Parallel.worker_memory_limit)"
