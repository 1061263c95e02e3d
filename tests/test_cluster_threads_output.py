"""Statements shipped to a Dask cluster of threads (``processes=False``) run inside the
kernel process, several at once: the kernel's own streams must come back afterwards (two
overlapping swaps once left them swapped, and every later cell printed nothing)."""

from __future__ import annotations

import pytest
from kernel_session import KernelSession

pytestmark = pytest.mark.timeout(180)

SETUP = """\
%load_ext kernel_ext
import time, warnings
from distributed import Client, LocalCluster
client = Client(LocalCluster(n_workers=2, threads_per_worker=2, processes=False, protocol='tcp',
                             dashboard_address='127.0.0.1:0'))
def load(name):
    time.sleep(0.3)  # no print, no warning: the loads are independent and overlap
    return len(name)
"""

CELL = """\
%%parallel --dask --no-progress
a = load('alpha')
b = load('beta')
c = load('gamma')
total = a + b + c
print('total', total)
"""


def test_overlapping_statements_on_a_thread_cluster_leave_the_kernel_streams_alone() -> None:
    with KernelSession() as kernel:
        kernel.run_ok(SETUP)
        for run in range(3):  # each time, the statements overlap on the cluster's threads
            res = kernel.execute(CELL).check_ok()
            assert res.stdout == "total 14\n", (run, res.stdout)
        after = kernel.execute("import sys\nprint('after', type(sys.stdout).__name__, "
                               "type(sys.stderr).__name__)\nwarnings.warn('kernel warning')")
        assert after.stdout == "after OutStream OutStream\n", after.stdout
        assert "kernel warning" in after.stderr
        kernel.run_ok("client.close()")
