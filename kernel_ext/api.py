"""The engine's entry points: ``submit`` starts a job, ``get`` runs one to the end.

``get`` has the signature and result shapes of Dask's ``get`` functions
(``dask.threaded.get``): a key gives a value, a list of keys a tuple of
values, nested lists nested tuples. So the same graph dict runs here and on Dask unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from kernel_ext.dask_graphs import graph_from_dask, is_dask_input, require_dask
from kernel_ext.events import Observer
from kernel_ext.graph import Graph, Task
from kernel_ext.scheduler import Job


def as_graph(graph: Graph | Mapping[Hashable, Any] | Iterable[Task]) -> Graph:
    """Accept a Graph, a Dask graph dict, what Dask hands a scheduler (an expression or
    collection: :mod:`kernel_ext.dask_graphs`), or an iterable of Tasks."""
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, Mapping) or is_dask_input(graph):
        return graph_from_dask(graph)
    return Graph(graph)


def submit(
    graph: Graph | Mapping[Hashable, Any] | Iterable[Task],
    keys: Any,
    *,
    backend: str = "threads",
    num_workers: int | None = None,
    retries: int = 0,
    keep_going: bool = False,
    observers: Iterable[Observer] = (),
    name: str | None = None,
    address: str | None = None,
    client: Any = None,
) -> Job:
    """Start running ``keys`` of ``graph`` and return the :class:`Job` at once.

    The graph is checked (missing keys, cycles, non-callables) before anything
    runs. ``observers`` are subscribed before the first task starts, so they
    see every event. On the ``sync`` backend the job runs to the end here.
    ``backend="dask"`` runs it on a dask.distributed cluster: the scheduler at
    ``address``, the ``distributed.Client`` given as ``client``, or the default
    client (:mod:`kernel_ext.cluster_run`).
    """
    if backend == "dask":
        from kernel_ext.cluster_run import connect

        client = connect(address, client)
    elif address is not None or client is not None:
        raise ValueError(f"address= and client= are for backend='dask', not {backend!r}")
    job = Job(
        as_graph(graph),
        keys,
        backend=backend,
        num_workers=num_workers,
        retries=retries,
        keep_going=keep_going,
        name=name,
        client=client,
    )
    for observer in observers:
        job.subscribe(observer)
    return job.start()


def get(
    dsk: Graph | Mapping[Hashable, Any] | Iterable[Task],
    keys: Any,
    *,
    backend: str = "threads",
    num_workers: int | None = None,
    retries: int = 0,
    keep_going: bool = False,
    observers: Iterable[Observer] = (),
    address: str | None = None,
    client: Any = None,
) -> Any:
    """Run the tasks needed for ``keys`` and return their values, like Dask's ``get``.

    Raises the first task's exception (its traceback intact, a note naming the
    task). Ctrl-C cancels the job and re-raises KeyboardInterrupt.
    """
    job = submit(
        dsk,
        keys,
        backend=backend,
        num_workers=num_workers,
        retries=retries,
        keep_going=keep_going,
        observers=observers,
        address=address,
        client=client,
    )
    return job.result()


def compute(*collections: Any, backend: str = "threads", num_workers: int | None = None,
            retries: int = 0, **dask_options: Any) -> tuple[Any, ...]:
    """``dask.compute`` on kernel_ext's engine: Dask collections and ``delayed`` values
    computed on its threads (or ``backend="processes"`` / ``"sync"``); returns what
    ``dask.compute`` returns. Other keywords go to Dask (``optimize_graph=False``...)."""
    dask = require_dask("kernel_ext.compute")
    return dask.compute(*collections, scheduler=get, backend=backend, num_workers=num_workers,
                        retries=retries, **dask_options)
