"""The task graph model, and conversion from Dask's classic graph dicts.

A :class:`Task` is a key, a callable and its arguments. Arguments refer to
other tasks' results through :class:`Ref` (also inside lists, tuples and
dicts), and may contain nested calls (:class:`Call`) evaluated in place, as in
Dask's ``(add, (inc, 'x'), 1)``. ``deps`` adds order-only dependencies: the
``%%parallel`` magic uses them for statements that share names but pass no
values.

Dask graph dicts (``{'b': (inc, 'a'), 'a': 1}``) are converted by
:func:`from_dask`, so the same dict runs here and on Dask unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kernel_ext.errors import MissingKeyError, NotCallableError


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to another task's result, inside a task's arguments."""

    key: Hashable


@dataclass(frozen=True, slots=True)
class Call:
    """A nested call inside a task's arguments, evaluated when the task runs."""

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Task:
    """One unit of work.

    ``group`` names what progress views count together (a function name, a
    statement label); ``meta`` is free-form data for whoever built the graph
    (the magic keeps line numbers and source there). ``local`` asks the process
    backend to run the task in the calling process instead of a worker process,
    for tasks that must touch the caller's objects.
    """

    key: Hashable
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] | None = None
    deps: frozenset[Hashable] = frozenset()
    group: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
    local: bool = False

    def __post_init__(self) -> None:
        if not callable(self.func):
            raise NotCallableError(self.key, self.func)
        if not self.group:
            self.group = funcname(self.func)

    def dependencies(self) -> tuple[Hashable, ...]:
        """Keys this task needs, once each: in argument order, then the order-only ``deps``.

        Argument order makes the scheduler's task order stable and natural.
        """
        found: dict[Hashable, None] = {}
        _collect_refs(self.args, found)
        if self.kwargs:
            _collect_refs(self.kwargs, found)
        for dep in self.deps:
            found[dep] = None
        return tuple(found)


class Graph:
    """A validated mapping of keys to tasks: every dependency is a key of the graph.

    Cycles are found when the part of the graph a run needs is ordered
    (:mod:`kernel_ext.ordering`), before anything runs.
    """

    def __init__(self, tasks: Iterable[Task]) -> None:
        self.tasks: dict[Hashable, Task] = {}
        for task in tasks:
            if task.key in self.tasks:
                raise ValueError(f"two tasks share the key {task.key!r}; keys must be unique")
            self.tasks[task.key] = task
        self.dependencies: dict[Hashable, tuple[Hashable, ...]] = {}
        tasks = self.tasks
        for key, task in tasks.items():
            deps = task.dependencies()
            for dep in deps:
                if dep not in tasks:
                    raise MissingKeyError(dep, key)
            self.dependencies[key] = deps

    def __len__(self) -> int:
        return len(self.tasks)

    def __contains__(self, key: object) -> bool:
        return key in self.tasks

    def __getitem__(self, key: Hashable) -> Task:
        return self.tasks[key]


def funcname(func: Callable[..., Any]) -> str:
    """A short readable name for a callable, seeing through ``functools.partial``."""
    while isinstance(func, functools.partial):
        func = func.func
    name = getattr(func, "__name__", None) or type(func).__name__
    return "lambda" if name == "<lambda>" else name


def from_dask(dsk: Mapping[Hashable, Any],
              special: Callable[[Hashable, Any], Task | None] | None = None) -> Graph:
    """Convert a Dask classic graph dict into a :class:`Graph`.

    Values follow Dask's spec: a tuple whose first element is callable is a
    task; a key of the graph is a reference (or, as a whole value, an alias);
    lists, and tuples inside a task's arguments, are traversed (as Dask does);
    anything else is a literal. A top-level tuple whose
    first element is not callable is almost always a typo'd task, so it is an
    error here rather than a silent literal.

    ``special(key, value)``, if given, converts the values it knows (Dask's
    task-spec nodes: :mod:`kernel_ext.dask_graphs`) and returns None for others.
    """
    keys = dsk.keys()
    groups = _GroupNames()
    tasks = []
    for key, value in dsk.items():
        task = special(key, value) if special is not None else None
        if task is not None:
            tasks.append(task)
        elif _is_dask_task(value):
            func = value[0]
            converted = tuple([_convert_dask_arg(a, keys) for a in value[1:]])
            tasks.append(Task(key, func, converted, group=groups.of(func)))
        elif _is_key(value, keys):
            tasks.append(Task(key, _identity, (Ref(value),), group="alias"))
        elif type(value) is tuple and value:
            raise NotCallableError(key, value[0])
        else:
            tasks.append(Task(key, _identity, (_convert_dask_arg(value, keys),), group="literal"))
    return Graph(tasks)


class _GroupNames:
    """funcname() once per distinct function: a 100,000-task graph has a handful."""

    def __init__(self) -> None:
        self._names: dict[Any, str] = {}

    def of(self, func: Any) -> str:
        try:
            name = self._names.get(func)
        except TypeError:  # an unhashable callable
            return funcname(func)
        if name is None:
            name = self._names[func] = funcname(func)
        return name


def _identity(value: Any) -> Any:
    return value


def _is_dask_task(value: object) -> bool:
    return type(value) is tuple and bool(value) and callable(value[0])


def _is_key(value: object, keys: Any) -> bool:
    try:
        return value in keys
    except TypeError:  # unhashable
        return False


def _convert_dask_arg(arg: Any, keys: Any) -> Any:
    kind = type(arg)
    if kind is tuple:
        if arg and callable(arg[0]):
            return Call(arg[0], tuple([_convert_dask_arg(a, keys) for a in arg[1:]]))
        if _is_key(arg, keys):
            return Ref(arg)
        return tuple([_convert_dask_arg(a, keys) for a in arg])
    if kind is list:
        return [_convert_dask_arg(a, keys) for a in arg]
    try:
        if arg in keys:
            return Ref(arg)
    except TypeError:  # unhashable: a literal
        pass
    return arg


def _collect_refs(obj: Any, found: dict[Hashable, None]) -> None:
    """Add the keys of every Ref inside ``obj`` to ``found``, in order of appearance."""
    kind = type(obj)
    if kind is Ref:
        found[obj.key] = None
    elif kind is Call:
        _collect_refs(obj.args, found)
        if obj.kwargs:
            _collect_refs(obj.kwargs, found)
    elif kind is list or kind is tuple:
        for item in obj:
            if type(item) is Ref:  # the common case, without a call
                found[item.key] = None
            else:
                _collect_refs(item, found)
    elif kind is dict:
        for item in obj.values():
            _collect_refs(item, found)


def needs_resolving(obj: Any) -> bool:
    """True if ``obj`` contains a Ref or Call, so it must be rebuilt before a call."""
    kind = type(obj)
    if kind is Ref or kind is Call:
        return True
    if kind in (list, tuple):
        return any(needs_resolving(item) for item in obj)
    if kind is dict:
        return any(needs_resolving(item) for item in obj.values())
    return False


def resolve(obj: Any, lookup: Callable[[Hashable], Any]) -> Any:
    """Rebuild ``obj`` with every Ref replaced by its value and every Call evaluated."""
    kind = type(obj)
    if kind is Ref:
        return lookup(obj.key)
    if kind is Call:
        args = [resolve(a, lookup) for a in obj.args]
        kwargs = {k: resolve(v, lookup) for k, v in obj.kwargs.items()} if obj.kwargs else {}
        return obj.func(*args, **kwargs)
    if kind is list:
        return [resolve(item, lookup) for item in obj]
    if kind is tuple:
        return tuple(resolve(item, lookup) for item in obj)
    if kind is dict:
        return {k: resolve(v, lookup) for k, v in obj.items()}
    return obj
