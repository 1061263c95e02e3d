"""Shared pytest fixtures (each block is self-contained; several engineers add to this file)."""

from __future__ import annotations

# --- Real-kernel fixtures for the %%parallel faithfulness suite -------------------------
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from kernel_session import KernelSession  # noqa: E402


@contextmanager
def parallel_kernel_session() -> Iterator[KernelSession]:
    """A real ipykernel with ``kernel_ext`` loaded and the delayed progress view off."""
    session = KernelSession().start()
    try:
        session.run_ok("%load_ext kernel_ext")
        # Live views (a progress widget after Parallel.views_delay) are an intended extra
        # output; the faithfulness comparison is about what the cell itself shows.
        session.run_ok("%config Parallel.progress = False")
        yield session
    finally:
        session.shutdown()


@pytest.fixture(scope="session")
def parallel_kernel() -> Iterator[KernelSession]:
    """One real ipykernel for the whole session, with ``kernel_ext`` loaded."""
    with parallel_kernel_session() as session:
        yield session


@pytest.fixture
def kernel(parallel_kernel: KernelSession) -> KernelSession:
    """The session kernel with a fresh namespace (``%reset -f``) and re-seeded RNGs."""
    parallel_kernel.reset()
    return parallel_kernel


# --- The browser for the JupyterLab / Notebook 7 tests ------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, driven by Playwright; a missing browser fails the test (no skip)."""
    from browser_support import BrowserSetupError, chromium, chromium_path

    try:
        chromium_path()
    except BrowserSetupError as error:
        pytest.fail(str(error), pytrace=False)
    with chromium() as b:
        yield b
