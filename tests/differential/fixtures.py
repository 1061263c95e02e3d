"""Fixtures of the differential tests (a pytest plugin: ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import parallel_kernel_session
from kernel_session import KernelSession

from differential.harness import MODES


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One scratch directory for both modes, so plain outcomes compare across kernels."""
    return str(tmp_path_factory.mktemp("differential") / "files")


@pytest.fixture(scope="module", params=list(MODES))
def mode_kernel(request: pytest.FixtureRequest) -> Iterator[tuple[str, KernelSession]]:
    """A real kernel with kernel_ext loaded, one per mode, reused by every case."""
    with parallel_kernel_session() as session:
        # More workers than this machine's 2 cores, so statements the analysis leaves
        # unordered really overlap (a race must not hide behind a busy pool).
        session.run_ok("%config Parallel.workers = 8")
        yield request.param, session
