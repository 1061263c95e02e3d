"""Which tasks a run needs, and the priority in which ready tasks are taken.

The priority is a depth-first post-order from the requested keys, visiting each
task's dependencies in argument order. Taking the lowest-numbered ready task
finishes a branch (and frees its intermediates) before starting the next one:
in a reduction tree, a parent is numbered right after its last child, so it
runs before new leaves are loaded. The walk also finds cycles, naming the keys
on them, before anything runs.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from kernel_ext.errors import CycleError, UnknownKeyError
from kernel_ext.graph import Graph

_NEW, _ON_PATH, _DONE = 0, 1, 2


def order(graph: Graph, outputs: Sequence[Hashable]) -> list[Hashable]:
    """Keys needed for ``outputs``, dependencies first, in priority order."""
    deps = graph.dependencies
    mark: dict[Hashable, int] = {}
    ordered: list[Hashable] = []
    for root in outputs:
        if root not in deps:
            raise UnknownKeyError(root, list(deps))
        if mark.get(root) == _DONE:
            continue
        mark[root] = _ON_PATH
        stack: list[tuple[Hashable, int]] = [(root, 0)]
        while stack:
            key, next_child = stack[-1]
            children = deps[key]
            while next_child < len(children):
                child = children[next_child]
                next_child += 1
                state = mark.get(child, _NEW)
                if state == _NEW:
                    stack[-1] = (key, next_child)
                    mark[child] = _ON_PATH
                    stack.append((child, 0))
                    break
                if state == _ON_PATH:
                    path = [k for k, _ in stack]
                    raise CycleError([*path[path.index(child):], child])
            else:
                stack.pop()
                mark[key] = _DONE
                ordered.append(key)
    return ordered
