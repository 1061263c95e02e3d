"""The priority order: dependencies first, branches finished before new ones start."""

from __future__ import annotations

import pytest

from kernel_ext import CycleError, Graph, Ref, Task, UnknownKeyError
from kernel_ext.ordering import order


def _graph(deps: dict) -> Graph:
    return Graph(Task(k, lambda *a: None, tuple(Ref(d) for d in ds)) for k, ds in deps.items())


def _reduction_tree(n_leaves: int) -> tuple[Graph, str]:
    deps: dict = {f"leaf-{i}": [] for i in range(n_leaves)}
    level = list(deps)
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j in range(0, len(level), 2):
            key = f"sum-{depth}-{j // 2}"
            deps[key] = level[j : j + 2]
            nxt.append(key)
        level = nxt
    return _graph(deps), level[0]


def test_order_puts_every_task_after_its_dependencies():
    graph, root = _reduction_tree(16)
    keys = order(graph, [root])
    position = {k: i for i, k in enumerate(keys)}
    assert len(keys) == len(graph) == 31
    for key in keys:
        for dep in graph.dependencies[key]:
            assert position[dep] < position[key]


def test_a_reduction_parent_comes_right_after_its_last_child():
    graph, root = _reduction_tree(8)
    keys = order(graph, [root])
    assert keys[:7] == ["leaf-0", "leaf-1", "sum-1-0", "leaf-2", "leaf-3", "sum-1-1", "sum-2-0"]
    for key in keys:
        deps = graph.dependencies[key]
        if deps:
            assert keys.index(key) == max(keys.index(d) for d in deps) + 1


def test_order_contains_only_what_the_outputs_need():
    graph = _graph({"a": [], "b": ["a"], "unused": ["a"], "c": ["b"]})
    assert order(graph, ["c"]) == ["a", "b", "c"]
    assert order(graph, ["c", "unused", "c"]) == ["a", "b", "c", "unused"]


def test_order_follows_argument_order():
    graph = _graph({"x": [], "y": [], "z": ["y", "x"]})
    assert order(graph, ["z"]) == ["y", "x", "z"]


def test_a_long_chain_is_ordered_without_recursion_limits():
    n = 50_000
    graph = _graph({0: [], **{i: [i - 1] for i in range(1, n)}})
    assert order(graph, [n - 1]) == list(range(n))


def test_order_names_the_cycle():
    graph = _graph({"a": [], "b": ["a", "d"], "c": ["b"], "d": ["c"], "e": ["b"]})
    with pytest.raises(CycleError) as info:
        order(graph, ["e"])
    assert info.value.cycle == ["b", "d", "c", "b"]
    assert "'b' -> 'd' -> 'c' -> 'b'" in str(info.value)


def test_order_rejects_an_unknown_output():
    with pytest.raises(UnknownKeyError, match="requested key 'nope'"):
        order(_graph({"a": []}), ["a", "nope"])
