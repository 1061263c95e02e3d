"""A long session in one real kernel: does anything grow? ``python -m benchmarks.soak``.

Runs ``--cells`` cells (default 300) in one ipykernel through jupyter_client,
cycling through what a long session does: foreground and background
``%%parallel`` cells on threads and on processes, with the live views on and
off, loops that fan out, failures, cancels and plain cells that wait for
background names. After a warm-up (the first cycle) and at the end it reads,
inside the kernel, after ``gc.collect()``: threads, child processes, open file
descriptors, comms, live widgets, background jobs kept, and resident memory.

It prints both readings and the growth, and exits 1 when a count grew by
more than ``--slack`` or memory by more than 10% (the bounds of issue 15). Comms
and widgets may also differ by one cell's views (``VIEW_WIDGETS``): the last
``live_views`` finished views stay widgets, and which cells those are depends on
which background job ended last.
``tests/test_soak.py`` runs a short version.
"""

from __future__ import annotations

import argparse
import ast
import json
import queue
import sys
import time
from typing import Any

from jupyter_client.manager import KernelManager

# Only the last few finished views stay live widgets (Parallel.live_views, 20 by
# default) and the last ended background jobs are kept for %jobs (Parallel.keep_jobs,
# 100): fewer here, so the warm-up reaches the steady state the soak then checks.
SETUP = """\
%load_ext kernel_ext
%config Parallel.live_views = 3
%config Parallel.keep_jobs = 5
import time
def nap(i):
    time.sleep(0.01)
    return i
def square(i):
    return i * i
"""

# One cycle; {i} makes names differ from cycle to cycle, as a long session's do.
CYCLE = [
    "%%parallel\nt{i} = [nap(x) for x in range(12)]\nu{i} = sum(t{i})",
    "%%parallel --processes --workers 2\np{i} = [nap(x) for x in range(60)]",
    "%%parallel --bg\nb{i} = [nap(x) for x in range(8)]",
    "%%parallel --progress --stream --graph\nv{i} = [nap(x) for x in range(16)]",
    "%%parallel\nok{i} = 1\nbad{i} = 1 / 0",
    "%%parallel --bg --workers 2\nlong{i} = [nap(x) for x in range(400)]",
    "%parallel cancel all",
    "w{i} = len(b{i})",
    "%%parallel --bg --progress\nq{i} = [square(x) for x in range(30)]",
    "%parallel wait",
    "%jobs",
]

READING = """\
import gc, os, threading
from kernel_ext.views.hub import settle_finished_views
settle_finished_views(timeout=5)  # ended jobs' views settle (and retire older ones) first
gc.collect()
try:
    import ipywidgets
    _widgets = len(ipywidgets.Widget.widgets)
except Exception:
    _widgets = -1
_kernel = get_ipython().kernel
_children = [p for p in os.listdir('/proc') if p.isdigit()
             and open(f'/proc/{p}/stat').read().split(')')[-1].split()[1] == str(os.getpid())]
_reading = {
    'threads': threading.active_count(),
    'processes': len(_children),
    'fds': len(os.listdir('/proc/self/fd')),
    'comms': len(_kernel.comm_manager.comms),
    'widgets': _widgets,
    'jobs kept': len(__import__('kernel_ext').jobs),
    'rss_mb': int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20,
}
"""


class Kernel:
    """One ipykernel of this interpreter, driven cell by cell."""

    def __init__(self) -> None:
        self.km = KernelManager(kernel_name="python3")
        self.km.kernel_spec.argv[0] = sys.executable
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 120) -> dict[str, Any]:
        """Execute ``code``; its reply content (errors included, by design of the soak)."""
        msg_id = self.kc.execute(code, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no reply within {timeout} s to:\n{code}") from None
            if reply["parent_header"].get("msg_id") == msg_id:
                self._drain()
                return dict(reply["content"])

    def reading(self) -> dict[str, float]:
        self.run("%parallel wait")
        self.run(READING)
        msg_id = self.kc.execute("", silent=True, user_expressions={"r": "json.dumps(_reading)"})
        while True:
            reply = self.kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                data = reply["content"]["user_expressions"]["r"]["data"]["text/plain"]
                return dict(json.loads(ast.literal_eval(data)))  # the repr of a JSON string

    def _drain(self) -> None:
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.01)
            except queue.Empty:
                return

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


VIEW_WIDGETS = 32  # the widgets (each with its comm) of one cell's views, at most


def soak(cells: int, slack: int = 3) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """Run the soak; (after warm-up, at the end, what grew past its bound)."""
    kernel = Kernel()
    try:
        kernel.run(SETUP + "import json")
        for n in range(2 * len(CYCLE)):  # warm-up: every kind of cell twice
            kernel.run(CYCLE[n % len(CYCLE)].format(i=f"w{n // len(CYCLE)}"))
        before = kernel.reading()
        for n in range(cells):
            cycle, step = divmod(n, len(CYCLE))
            kernel.run(CYCLE[step].format(i=cycle + 1))
        after = kernel.reading()
    finally:
        kernel.close()
    grew = [f"{key}: {before[key]:g} -> {after[key]:g}" for key in before
            if key != "rss_mb" and after[key] > before[key] + slack + (
                VIEW_WIDGETS if key in ("comms", "widgets") else 0)]
    if after["rss_mb"] > before["rss_mb"] * 1.10:
        grew.append(f"rss_mb: {before['rss_mb']:.1f} -> {after['rss_mb']:.1f} (over 10%)")
    return before, after, grew


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300)
    parser.add_argument("--slack", type=int, default=3, help="counts may grow by this much")
    args = parser.parse_args(argv)
    started = time.monotonic()
    before, after, grew = soak(args.cells, args.slack)
    print(f"{args.cells} cells in {time.monotonic() - started:.0f} s")
    for key in before:
        print(f"  {key:10} after warm-up {before[key]:8.1f}   at the end {after[key]:8.1f}")
    print("bounded" if not grew else "GREW: " + "; ".join(grew))
    return 1 if grew else 0


if __name__ == "__main__":
    raise SystemExit(main())
