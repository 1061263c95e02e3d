"""Run a fanned-out loop or comprehension: one engine task per element.

The analysis (:mod:`kernel_ext.analysis.fanout`) has proven the iterations
independent. Each iteration runs as a generated function, so that the body's
names are the iteration's own (closures and comprehensions inside it see
them), with each accumulator container replaced by a recorder. The results are
then applied in element order, which makes the statement's effect on the
namespace exactly that of the plain loop:

- accumulator calls (``out.append(v)``, ``out.add(v)``, ``out[k] = v``) are
  replayed on the real container, iteration by iteration;
- the loop's names are left bound as the last iteration (that bound them)
  left them, and comprehension results are built in order;
- when iteration k raises, iterations before it are applied, the names
  iteration k had bound when it raised are bound, and its exception is raised.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import MutableMapping
from types import CodeType
from typing import Any

from kernel_ext.analysis import AccumulatorKind, FanOut, FanOutKind
from kernel_ext.cell.output import TaskOutput, capturing_into, current_output
from kernel_ext.events import TaskState
from kernel_ext.graph import Graph, Task
from kernel_ext.scheduler import Job, drop_task_notes

_ITEM = "__kernel_ext_item"
_FUNCTION = "__kernel_ext_iteration"
_LOCALS = "__kernel_ext_locals"
_BUILTIN_LOCALS = "__kernel_ext_builtin_locals"


class Recorder:
    """Stands in for an accumulator container inside one iteration; records what it is fed."""

    def __init__(self, kind: AccumulatorKind) -> None:
        self.kind = kind
        self.calls: list[tuple[Any, ...]] = []

    def append(self, value: Any) -> None:
        self.calls.append((value,))

    def add(self, value: Any) -> None:
        self.calls.append((value,))

    def __setitem__(self, key: Any, value: Any) -> None:
        self.calls.append((key, value))

    def replay(self, container: Any) -> None:
        for call in self.calls:
            if self.kind is AccumulatorKind.APPEND:
                container.append(*call)
            elif self.kind is AccumulatorKind.ADD:
                container.add(*call)
            else:
                container[call[0]] = call[1]


class IterationFailed(Exception):
    """Carries an iteration's exception and the names it had bound when it raised."""

    def __init__(self, error: BaseException, bound: dict[str, Any]) -> None:
        super().__init__(error)
        self.error = error
        self.bound = bound


def _iteration_function(fanout: FanOut, filename: str, flags: int) -> CodeType:
    """Compile ``def f(item, *accumulators): <target> = item; <body or element>``."""
    bind = ast.Assign(targets=[_store(fanout.target)], value=ast.Name(_ITEM, ast.Load()))
    ast.copy_location(bind, fanout.target)
    if fanout.kind is FanOutKind.FOR_LOOP:
        collect = ast.Return(ast.Call(ast.Name(_LOCALS, ast.Load()), [], []))
        body: list[ast.stmt] = [bind, *fanout.body, collect]
    else:
        assert fanout.element is not None
        result = fanout.element
        if fanout.value is not None:
            result = ast.Tuple([fanout.element, fanout.value], ast.Load())
        keep = ast.Constant(True)
        if fanout.conditions:
            keep = ast.BoolOp(ast.And(), list(fanout.conditions)) if len(
                fanout.conditions) > 1 else fanout.conditions[0]
        body = [bind, ast.Return(ast.Tuple([keep, result], ast.Load()))]
    params = [ast.arg(_ITEM)] + [ast.arg(acc.name) for acc in fanout.accumulators]
    # `locals` comes in as a keyword-only default, so a user's own `locals` can't shadow it.
    func = ast.FunctionDef(
        name=_FUNCTION,
        args=ast.arguments(posonlyargs=[], args=params, kwonlyargs=[ast.arg(_LOCALS)],
                           kw_defaults=[ast.Name(_BUILTIN_LOCALS, ast.Load())], defaults=[]),
        body=body,
        decorator_list=[],
        returns=None,
    )
    ast.copy_location(func, fanout.target)
    module = ast.fix_missing_locations(ast.Module(body=[func], type_ignores=[]))
    return compile(module, filename, "exec", flags=flags, dont_inherit=True)


def _store(target: ast.expr) -> ast.expr:
    """A copy of a Load-context target expression in Store context."""
    if isinstance(target, ast.Name):
        return ast.copy_location(ast.Name(target.id, ast.Store()), target)
    if isinstance(target, ast.Tuple | ast.List):
        cls = type(target)
        return ast.copy_location(cls([_store(e) for e in target.elts], ast.Store()), target)
    if isinstance(target, ast.Starred):
        return ast.copy_location(ast.Starred(_store(target.value), ast.Store()), target)
    raise ValueError(f"unsupported loop target {ast.dump(target)}")


def _run_iteration(
    function: _Literal, item: _Literal, kinds: tuple[AccumulatorKind, ...],
    keep: frozenset[str], is_loop: bool, output: TaskOutput | None,
) -> tuple[Any, list[Recorder]]:
    """One iteration: (names it bound | (keep?, value), recorders); raises IterationFailed."""
    recorders = [Recorder(kind) for kind in kinds]
    call, value = function.value, item.value
    try:
        if output is None:
            outcome = call(value, *recorders)
        else:
            with capturing_into(output):
                outcome = call(value, *recorders)
    except BaseException as exc:  # noqa: BLE001 - re-raised with the iteration's bound names
        raise IterationFailed(exc, _locals_at_failure(exc, keep)) from None
    if is_loop:
        outcome = {name: value for name, value in outcome.items() if name in keep}
    return outcome, recorders


def _locals_at_failure(exc: BaseException, keep: frozenset[str]) -> dict[str, Any]:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name == _FUNCTION:
            return {k: v for k, v in tb.tb_frame.f_locals.items() if k in keep}
        tb = tb.tb_next
    return {}


def run_fanout(
    fanout: FanOut,
    namespace: MutableMapping[str, Any],
    filename: str,
    *,
    flags: int = 0,
    backend: str = "threads",
    workers: int | None = None,
) -> None:
    """Execute the fanned-out statement in ``namespace``, with the plain statement's effect."""
    __tracebackhide__ = True  # noqa: F841
    code = _iteration_function(fanout, filename, flags)
    scope: dict[str, Any] = {_BUILTIN_LOCALS: builtins.locals}
    exec(code, namespace, scope)  # the function's globals are the user namespace
    function = scope[_FUNCTION]
    iterable = eval(compile(ast.Expression(fanout.iterable), filename, "eval", flags=flags,
                            dont_inherit=True), namespace)
    items = list(iterable)
    is_loop = fanout.kind is FanOutKind.FOR_LOOP
    kinds = tuple(acc.kind for acc in fanout.accumulators)
    keep = fanout.locals_left_behind
    local = backend != "processes"
    outputs = [TaskOutput() for _ in items] if local else [None] * len(items)

    tasks = [
        Task(key=k, func=_run_iteration,
             args=(_Literal(function), _Literal(item), kinds, keep, is_loop, outputs[k]),
             group=f"{fanout.kind.value} over {ast.unparse(fanout.iterable)}")
        for k, item in enumerate(items)
    ]
    job = Job(Graph(tasks), list(range(len(items))), backend=backend, num_workers=workers,
              keep_going=True, name="fan-out")
    job.start()
    job.wait()
    states = job.states()
    failed = min((k for k, s in states.items() if s is TaskState.FAILED), default=None)
    done = len(items) if failed is None else failed
    results = job.results

    parent_output = current_output()
    for k in range(done if failed is None else failed + 1):
        if parent_output is not None and outputs[k] is not None:
            for kind, payload in outputs[k].take():
                parent_output.add(kind, payload)

    bound: dict[str, Any] = {}
    values: list[Any] = []
    for k in range(done):
        outcome, recorders = results[k]
        if is_loop:
            bound.update(outcome)
            for acc, recorder in zip(fanout.accumulators, recorders, strict=True):
                recorder.replay(namespace[acc.name])
        elif outcome[0]:
            values.append(outcome[1])
    if failed is not None:
        failure = dict(job.errors)[failed]
        assert isinstance(failure, IterationFailed)
        bound.update(failure.bound)
        namespace.update(bound)
        drop_task_notes(failure.error)
        raise failure.error
    if is_loop:
        namespace.update(bound)
        return
    namespace[fanout.assign_target] = _assemble(fanout, values, namespace)


class _Literal:
    """Wraps a task argument so the engine does not look inside it for references."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _assemble(fanout: FanOut, values: list[Any], namespace: MutableMapping[str, Any]) -> Any:
    if fanout.kind is FanOutKind.LIST_COMP:
        return values
    if fanout.kind is FanOutKind.SET_COMP:
        return set(values)
    if fanout.kind is FanOutKind.DICT_COMP:
        return dict(values)
    assert fanout.wrapper is not None
    wrapper = namespace.get(fanout.wrapper, getattr(builtins, fanout.wrapper))
    return wrapper(values)

