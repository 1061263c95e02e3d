"""Dask-style graph dicts the cases run through both engines.

Task functions live at module level so worker processes can import them by
name (both loky and Dask's process pool pickle them by reference).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Callable, Hashable
from typing import Any

Graph = dict[Hashable, Any]
Built = tuple[Graph, Any]  # the graph and the keys to ask for


def inc(x: int) -> int:
    return x + 1


def total(*xs: int) -> int:
    return sum(xs)


def independent(n: int) -> Built:
    """``n`` tasks with no dependencies, then one task summing them all."""
    dsk: Graph = {("x", i): (inc, i) for i in range(n - 1)}
    dsk["sum"] = (total, *[("x", i) for i in range(n - 1)])
    return dsk, "sum"


def chain(n: int) -> Built:
    """``n`` tasks, each needing the previous one: no parallelism, pure dispatch cost."""
    dsk: Graph = {("c", 0): (inc, 0)}
    for i in range(1, n):
        dsk[("c", i)] = (inc, ("c", i - 1))
    return dsk, ("c", n - 1)


def tree(
    n: int, leaf: Callable[[int], Any] = inc, combine: Callable[[Any, Any], Any] = operator.add
) -> Built:
    """A binary reduction of about ``n`` tasks (n/2 leaves, pairwise combined to one root)."""
    leaves = max(1, (n + 1) // 2)
    return reduction(leaves, leaf, combine)


def reduction(leaves: int, leaf: Callable[[int], Any], combine: Callable[[Any, Any], Any]) -> Built:
    """``leaves`` leaf tasks combined pairwise, level by level, into one root."""
    dsk: Graph = {("t", 0, i): (leaf, i) for i in range(leaves)}
    layer: list[Hashable] = list(dsk)
    level = 0
    while len(layer) > 1:
        level += 1
        nxt: list[Hashable] = []
        for j in range(0, len(layer) - 1, 2):
            key = ("t", level, j // 2)
            dsk[key] = (combine, layer[j], layer[j + 1])
            nxt.append(key)
        if len(layer) % 2:
            nxt.append(layer[-1])
        layer = nxt
    return dsk, layer[0]


SHAPES: dict[str, Callable[[int], Built]] = {
    "independent+sum": independent,
    "chain": chain,
    "tree": tree,
}


def sleep_task(i: int, seconds: float) -> int:
    time.sleep(seconds)
    return i


def sleeps(n: int, seconds: float) -> Built:
    """``n`` independent sleeping tasks; the keys asked for are all of them."""
    dsk: Graph = {("s", i): (sleep_task, i, seconds) for i in range(n)}
    return dsk, list(dsk)


def spin(loops: int) -> int:
    """Pure-Python CPU work that holds the GIL the whole time."""
    acc = 0
    for i in range(loops):
        acc = (acc + i * i) % 1_000_003
    return acc


def spins(n: int, loops: int) -> Built:
    dsk: Graph = {("p", i): (spin, loops + i) for i in range(n)}
    return dsk, list(dsk)


def blob(i: int, size: int = 10_000) -> bytes:
    """A fresh ``size``-byte object per leaf, so live leaves show up in memory."""
    return bytes(size)


def nbytes(a: Any, b: Any) -> int:
    """Combine two leaves (or partial sums) into a small number: the leaves can be freed."""
    size_a = len(a) if isinstance(a, bytes) else a
    size_b = len(b) if isinstance(b, bytes) else b
    return size_a + size_b
