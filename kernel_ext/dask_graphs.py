"""What Dask hands a scheduler, as an engine :class:`~kernel_ext.graph.Graph`.

Dask calls a scheduler function as ``get(dsk, keys, **options)``. Since Dask
2024.12, ``dsk`` is often not a dict at all but an expression (arrays,
dataframes, ``delayed`` and ``dask.compute`` hand over an
``HLGFinalizeCompute``), whose graph is Dask's public ``__dask_graph__()``;
and that graph's values are task-spec nodes (``Task``, ``Alias``,
``DataNode``, ...) rather than the classic ``(func, *args)`` tuples. Each node
says which keys it needs (``node.dependencies``) and computes itself from
their values (``node(values)``), which is all the engine needs: a node becomes
one task whose arguments are the node and a dict of references to its
dependencies. Graph dicts written by hand (classic tuples only) keep the
classic conversion, :func:`kernel_ext.graph.from_dask`.

Tasks of a Dask-made graph are grouped by Dask's key prefix (``from-array``,
``mean_chunk``, ``read-csv``), as Dask's own dashboard groups them.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from typing import Any

from kernel_ext.graph import Graph, Ref, Task, from_dask

INSTALL_HINT = "install Dask to use it: pip install 'kernel_ext[dask]'"


def is_dask_input(obj: object) -> bool:
    """A Dask expression or collection (anything with ``__dask_graph__``), not a dict."""
    return not isinstance(obj, Mapping) and hasattr(obj, "__dask_graph__")


def graph_from_dask(dsk: Any) -> Graph:
    """The engine graph of a Dask graph dict, a Dask expression or a Dask collection."""
    if is_dask_input(dsk):
        dsk = dsk.__dask_graph__()
    if not isinstance(dsk, Mapping):
        raise TypeError(
            f"expected a Dask graph (a mapping of keys to tasks) or a Dask collection, "
            f"not {type(dsk).__name__}")
    node_type = _graph_node_type()
    if node_type is None:
        return from_dask(dsk)

    def node_task(key: Hashable, value: Any) -> Task | None:
        if not isinstance(value, node_type):
            return None  # a classic tuple or literal: converted the classic way
        needs = {dep: Ref(dep) for dep in value.dependencies}
        return Task(key, _run_node, (value, needs), group=_key_split(key))

    return from_dask(dsk, special=node_task)


def _run_node(node: Any, values: dict[Hashable, Any]) -> Any:
    """Compute one task-spec node from the values of the keys it needs."""
    return node(values)


def _key_split(key: Hashable) -> str:
    from dask.utils import key_split

    return str(key_split(key))


@functools.cache
def _graph_node_type() -> type | None:
    """Dask's task-spec node class (public since Dask 2025.1), or None without Dask."""
    try:
        from dask.task_spec import GraphNode
    except ImportError:
        return None
    return GraphNode


def require_dask(what: str) -> Any:
    """The ``dask`` module, or an ImportError that says what to install for ``what``."""
    try:
        import dask
    except ImportError:
        raise ImportError(f"{what} needs Dask; {INSTALL_HINT}") from None
    return dask
