"""The harness's pieces shared by every case: rows, settings, the registry, timing.

A case is a function ``(Settings) -> list[Row]`` registered under a name with
:func:`case`. Modules that define cases are imported by :mod:`benchmarks.run`;
a new case (the ``%%parallel`` magic's cells, the live views' overhead) is one
more decorated function in one more module listed in ``CASE_MODULES``.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats. ``quick()`` is the fast subset; tests shrink it further."""

    sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    process_sizes: tuple[int, ...] = (1_000, 10_000)
    thread_counts: tuple[int, ...] = (2, 4)
    process_workers: int = 2
    repeats: int = 3
    sleep_tasks: int = 64
    sleep_seconds: float = 0.05
    sleep_threads: int = 8
    sleep_repeats: int = 5
    cpu_tasks: int = 16
    cpu_loops: int = 1_500_000
    memory_leaves: int = 100_000
    memory_leaf_bytes: int = 10_000

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            sizes=(1_000, 10_000),
            process_sizes=(1_000,),
            repeats=2,
            sleep_repeats=3,
            cpu_tasks=8,
            cpu_loops=600_000,
            memory_leaves=10_000,
        )


@dataclass
class Row:
    """One measured comparison. ``ratio`` is kernel_ext / peer in ``unit``.

    ``passed`` is None when the row has no target.
    """

    case: str
    params: str
    unit: str
    kernel_ext: float
    peer: float
    peer_name: str
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.kernel_ext / self.peer if self.peer else float("nan")


CaseFunc = Callable[[Settings], list[Row]]


@dataclass(frozen=True)
class Case:
    name: str
    func: CaseFunc
    doc: str
    in_quick: bool = True


CASES: dict[str, Case] = {}


def case(name: str, *, in_quick: bool = True) -> Callable[[CaseFunc], CaseFunc]:
    """Register a case under ``name``; registration order is run order."""

    def register(func: CaseFunc) -> CaseFunc:
        if name in CASES:
            raise ValueError(f"benchmark case {name!r} registered twice")
        CASES[name] = Case(name, func, (func.__doc__ or "").strip().splitlines()[0], in_quick)
        return func

    return register


@dataclass
class Timings:
    """Wall times (seconds) per runner, collected by :func:`interleave`."""

    runs: dict[str, list[float]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def best(self, name: str) -> float:
        return min(self.runs[name])

    def median(self, name: str) -> float:
        return statistics.median(self.runs[name])


def timed(func: Callable[[], Any]) -> tuple[float, Any]:
    """Time one call, after a collection so earlier garbage is not billed to it."""
    gc.collect()
    start = time.perf_counter()
    value = func()
    return time.perf_counter() - start, value


def interleave(runners: Sequence[tuple[str, Callable[[], Any]]], repeats: int) -> Timings:
    """Run every runner ``repeats`` times, alternating, so machine noise hits all of them.

    The starting runner rotates each round, so none is always first (warm
    caches, turbo) or last. Results are kept (the last of each) for checking.
    """
    out = Timings({name: [] for name, _ in runners})
    for r in range(repeats):
        shift = r % len(runners)
        for name, run in list(runners[shift:]) + list(runners[:shift]):
            seconds, value = timed(run)
            out.runs[name].append(seconds)
            out.results[name] = value
            del value
    return out
