"""A ``%%parallel`` cell on a Dask cluster means what the plain cell means, as on
``--processes``: the same names, output and errors, on the cases of the processes suite
(copies that would alias or miss in-place changes, values that cannot travel, loops that
fan out, process settings). On two clusters: ``--cluster local`` (a LocalCluster the
kernel starts, its scheduler inside the kernel) and ``--scheduler`` (a `dask scheduler`
and two `dask worker` processes this module starts)."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_session import KernelSession
from plain_vs_parallel import compare_plain_and_parallel
from test_processes_faithfulness import (
    ALIASING,
    ERRORS,
    FANNED_OUT,
    FANNED_OUT_ERRORS,
    IN_PLACE,
    NOT_SENDABLE,
    SETTINGS,
    _frames,
)


@pytest.fixture(scope="module", params=["--cluster local", "--scheduler"])
def magic(request):
    if request.param == "--cluster local":
        yield "%%parallel --cluster local"
        return
    from distributed import Client
    from test_cluster_backend import Cluster, wait_for

    running = Cluster()
    try:
        with Client(running.address, timeout=60, set_as_default=False) as client:
            wait_for(lambda: len(client.scheduler_info()["workers"]) == 2)
        yield f"%%parallel --scheduler {running.address}"
    finally:
        running.close()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ALIASING + IN_PLACE
                                  + NOT_SENDABLE + FANNED_OUT + SETTINGS])
def test_cluster_cell_leaves_what_the_plain_cell_leaves(
    kernel: KernelSession, magic: str, case: Any, tmp_path: Any
) -> None:
    plain, _ = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                          magic)
    assert plain["status"] == "ok"
    assert case.check is not None and case.check(plain), plain["namespace"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ERRORS + FANNED_OUT_ERRORS])
def test_cluster_errors_read_as_the_plain_cells(
    kernel: KernelSession, magic: str, case: Any, tmp_path: Any
) -> None:
    plain, par = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                            magic)
    assert case.check is not None and case.check(plain)
    assert _frames(par["_traceback"]) == _frames(plain["_traceback"])
    for machinery in ("kernel_ext", "loky", "distributed", "RemoteTraceback", "dynamic-code"):
        assert machinery not in par["_traceback"]
