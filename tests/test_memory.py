"""Memory: intermediates are released as soon as their consumers ran, so big reductions fit."""

from __future__ import annotations

import tracemalloc

import pytest

import kernel_ext
from kernel_ext import Graph, Ref, Task

BLOCK = 10_000  # bytes per intermediate result


def make_block(i):
    return bytes(BLOCK)


def combine_blocks(a, b):
    assert len(a) == len(b) == BLOCK
    return bytes(BLOCK)


def _reduction_tree(n_leaves, leaf, combine):
    tasks = [Task(("leaf", i), leaf, (i,)) for i in range(n_leaves)]
    level = [("leaf", i) for i in range(n_leaves)]
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level) - 1, 2):
            key = ("node", depth, j // 2)
            tasks.append(Task(key, combine, (Ref(level[j]), Ref(level[j + 1]))))
            nxt.append(key)
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return Graph(tasks), level[0]


def test_a_100k_task_reduction_never_holds_all_intermediates():
    graph, root = _reduction_tree(50_000, make_block, combine_blocks)
    assert len(graph) == 99_999
    # Holding every intermediate would take 99,999 * 10 kB = 1 GB.
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = kernel_ext.get(graph, root, backend="threads", num_workers=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result) == BLOCK
    assert peak < 100 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("backend", ["threads", "sync", "processes"])
def test_a_tree_of_sums_gives_the_right_total(backend):
    n = 1000 if backend != "processes" else 64
    graph, root = _reduction_tree(n, lambda i: i, lambda a, b: a + b)
    assert kernel_ext.get(graph, root, backend=backend) == n * (n - 1) // 2
