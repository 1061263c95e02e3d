"""A memory limit per worker process, as Dask's nanny keeps one.

A task that allocates past what the machine has would otherwise bring in the
out-of-memory killer, which may well pick the kernel. One daemon thread per
kernel reads the resident memory of every worker process ten times a second and
kills (SIGKILL) a worker over the limit; the slot that ran it then raises
:class:`~kernel_ext.errors.WorkerMemoryError` (a ``WorkerDiedError``: retried
when retries are set) and a fresh worker takes its place.

The limit: ``Parallel.worker_memory_limit`` in a notebook, or
:func:`set_worker_memory_limit`. ``"auto"`` (the default) is a fair share of the
machine: its memory divided by the worker processes it runs by default.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time

POLL = 0.1  # seconds between readings
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*$", re.IGNORECASE)

_limit: int | None = None
_set = False
_killed: dict[int, tuple[int, int]] = {}  # pid -> (resident bytes, limit) when killed
_lock = threading.Lock()
_watcher: threading.Thread | None = None


def machine_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def parse_limit(value: object) -> int | None:
    """Bytes per worker from ``value``: bytes (int), ``"2GB"``, ``"1.5 GiB"``, a share of
    the machine (``"25%"`` or 0.25), ``"auto"``; None, 0 or ``"none"``: no limit."""
    if value is None or value == 0 or (isinstance(value, str)
                                       and value.strip().lower() in ("none", "0", "")):
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        from kernel_ext.scheduler import default_workers

        return machine_memory() // max(1, default_workers())
    if isinstance(value, float) and 0 < value < 1:
        return int(machine_memory() * value)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            try:
                share = float(text[:-1])
            except ValueError:
                share = -1.0
            if 0 < share <= 100:
                return int(machine_memory() * share / 100)
        match = _SIZE.match(text)
        if match and match.group(2).lower() in _UNITS and float(match.group(1)) > 0:
            return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    raise ValueError(
        f"worker_memory_limit {value!r} is not a memory size. Give bytes (2000000000), "
        "a size ('2GB', '1.5 GiB', '512MB'), a share of the machine ('25%' or 0.25), "
        "'auto' (the machine's memory divided by its default workers) or None (no limit).")


def set_worker_memory_limit(value: object) -> int | None:
    """Set the limit for every worker process of this kernel; returns it in bytes."""
    global _limit, _set
    limit = parse_limit(value)  # raises before anything changes
    _limit, _set = limit, True
    return limit


def worker_memory_limit() -> int | None:
    """The limit in bytes (None: no limit); ``"auto"`` until one is set."""
    global _limit, _set
    if not _set:
        _limit, _set = parse_limit("auto"), True
    return _limit


def watch() -> None:
    """Make sure the watcher runs (called when a worker process is started)."""
    global _watcher
    with _lock:
        if _watcher is None or not _watcher.is_alive():
            _watcher = threading.Thread(target=_watch, name="kernel_ext-memory-guard",
                                        daemon=True)
            _watcher.start()


def killed_for_memory(pid: int | None) -> tuple[int, int] | None:
    """(resident bytes, limit) if the guard killed worker ``pid``; forgets it."""
    with _lock:
        return _killed.pop(pid, None) if pid is not None else None


def _watch() -> None:
    from kernel_ext.background.magics_status import resident_bytes
    from kernel_ext.process_pool import worker_pids

    idle_since = time.monotonic()
    while True:
        time.sleep(POLL)
        pids = worker_pids()
        if not pids:
            if time.monotonic() - idle_since > 5:  # ends; the next worker starts it again
                global _watcher
                with _lock:
                    _watcher = None
                return
            continue
        idle_since = time.monotonic()
        limit = worker_memory_limit()
        if limit is None:
            continue
        for pid in pids:
            resident = resident_bytes(pid)
            if resident is not None and resident > limit:
                with _lock:
                    _killed[pid] = (resident, limit)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    with _lock:
                        _killed.pop(pid, None)
