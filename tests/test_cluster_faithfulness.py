"""A ``%%parallel`` cell on a Dask cluster (``--cluster local``: a LocalCluster the
kernel starts) means what the plain cell means, as on ``--processes``: the same names,
output and errors, on the cases of the processes suite (copies that would alias or miss
in-place changes, values that cannot travel, loops that fan out, process settings)."""

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

MAGIC = "%%parallel --cluster local"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ALIASING + IN_PLACE
                                  + NOT_SENDABLE + FANNED_OUT + SETTINGS])
def test_cluster_cell_leaves_what_the_plain_cell_leaves(
    kernel: KernelSession, case: Any, tmp_path: Any
) -> None:
    plain, _ = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                          MAGIC)
    assert plain["status"] == "ok"
    assert case.check is not None and case.check(plain), plain["namespace"]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ERRORS + FANNED_OUT_ERRORS])
def test_cluster_errors_read_as_the_plain_cells(
    kernel: KernelSession, case: Any, tmp_path: Any
) -> None:
    plain, par = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                            MAGIC)
    assert case.check is not None and case.check(plain)
    assert _frames(par["_traceback"]) == _frames(plain["_traceback"])
    for machinery in ("kernel_ext", "loky", "distributed", "RemoteTraceback", "dynamic-code"):
        assert machinery not in par["_traceback"]
