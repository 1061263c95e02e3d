"""A short soak in one real kernel: after many mixed cells nothing has grown.

The short version of ``python -m benchmarks.soak`` (issue 15): foreground and
background ``%%parallel`` cells on threads and processes, views on and off,
loops that fan out, failures, cancels and cells that wait for background names.
Threads, child processes, file descriptors, comms, widgets and kept jobs are
back to their count after the warm-up (a small constant more at most), and
resident memory after ``gc.collect()`` is within 10% of it.
"""

from __future__ import annotations

import pytest

from benchmarks.soak import CYCLE, soak

pytestmark = pytest.mark.timeout(600)


def test_a_short_soak_leaves_nothing_growing() -> None:
    before, after, grew = soak(cells=6 * len(CYCLE), slack=3)
    assert before["widgets"] > 0 and before["processes"] > 0  # views and workers were made
    assert not grew, (before, after)
