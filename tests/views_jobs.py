"""Small jobs for the views tests, built but not started, so views see every event."""

from __future__ import annotations

import time
from typing import Any

from kernel_ext.api import as_graph
from kernel_ext.graph import Ref, Task
from kernel_ext.scheduler import Job


def inc(x: int) -> int:
    time.sleep(0.002)
    return x + 1


def total(*args: int) -> int:
    return sum(args)


def boom(x: int) -> int:
    raise ValueError(f"bad input {x}\nsecond line")


def fan_in(n: int = 20, fail: bool = False, **kwargs: Any) -> Job:
    """``n`` inc tasks -> one total; with ``fail``, a failing task after the total."""
    dsk: dict[Any, Any] = {("x", i): (inc, i) for i in range(n)}
    dsk["t"] = (total, *[("x", i) for i in range(n)])
    keys = ["t"]
    if fail:
        dsk["b"] = (boom, "t")
        dsk["after"] = (inc, "b")
        keys = ["t", "after"]
    return Job(as_graph(dsk), keys, **kwargs)


def tiny(n: int, **kwargs: Any) -> Job:
    """``n`` instant tasks in groups of 1,000, summed per group then overall."""
    dsk: dict[Any, Any] = {("x", i): (int, i) for i in range(n)}
    parts = []
    for j in range(0, n, 1000):
        dsk[("s", j)] = (total, *[("x", i) for i in range(j, min(n, j + 1000))])
        parts.append(("s", j))
    dsk["t"] = (total, *parts)
    return Job(as_graph(dsk), "t", **kwargs)


def labelled() -> Job:
    """Tasks with magic-style meta: labels and the names that caused each edge."""
    tasks = [
        Task("a", int, ("1",), group="load", meta={"label": "a = load()"}),
        Task("b", int, ("2",), group="load", meta={"source": "b = other()\nmore"}),
        Task("c", total, (Ref("a"), Ref("b")), group="combine",
             meta={"edge_labels": {"a": "a", "b": "b, z"}}),
    ]
    from kernel_ext.graph import Graph

    return Job(Graph(tasks), "c", num_workers=2)
