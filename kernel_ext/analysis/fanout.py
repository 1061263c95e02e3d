"""Detect loops and comprehensions whose iterations are independent.

Such a statement can run one task per element and assemble the results in
order.  Detection is deliberately narrow: any pattern not listed here stays a
single task, which is always correct.

How a runner executes a FanOut (the contract these fields serve):

1. Evaluate `iterable` once, in the cell namespace, and materialise it.
2. Per element, in a fresh function scope (so closures and comprehensions in
   the body see the iteration's own names), bind `target` to the element and
   run it: FOR_LOOP runs `body` with each accumulator name bound to a recorder
   of the calls it receives; comprehensions evaluate `conditions` then
   `element` (and `value`).
3. In element order: replay recorded accumulator operations on the real
   containers, collect comprehension results, and for FOR_LOOP copy each name
   in `locals_left_behind` from the last iteration that bound it.
4. An exception in iteration k: replay/collect iterations < k only, copy the
   names bound so far in iteration k, and raise that exception.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Container, Iterable
from dataclasses import dataclass, field
from enum import Enum

from kernel_ext.analysis.hidden import HiddenResolver
from kernel_ext.analysis.names import Env, is_builtin_name, statement_facts, walk


class FanOutKind(Enum):
    FOR_LOOP = "for loop"
    LIST_COMP = "list comprehension"
    SET_COMP = "set comprehension"
    DICT_COMP = "dict comprehension"
    GENERATOR_CALL = "generator passed to a builtin"


class AccumulatorKind(Enum):
    APPEND = "append"  # container.append(value)
    ADD = "add"  # container.add(value)
    SETITEM = "setitem"  # container[key] = value


@dataclass(frozen=True)
class Accumulator:
    """A container the loop body only feeds: never read, rebound or otherwise changed."""

    name: str  # bound before the loop; not the loop target, not bound in the body
    kind: AccumulatorKind


@dataclass(frozen=True)
class FanOut:
    """A statement whose iterations can run as separate tasks."""

    kind: FanOutKind
    iterable: ast.expr  # evaluated once, in order, in the cell's namespace
    target: ast.expr  # loop/comprehension target: a Name, or a Tuple/List of Names
    body: tuple[ast.stmt, ...] = ()  # FOR_LOOP only: the loop body (no else, break, continue)
    element: ast.expr | None = None  # comprehensions: the element (the key for dict comps)
    value: ast.expr | None = None  # DICT_COMP (and dict(...) of pairs): the value expression
    conditions: tuple[ast.expr, ...] = ()  # comprehension `if`s, all pure, evaluated in order
    accumulators: tuple[Accumulator, ...] = ()  # FOR_LOOP: containers the body feeds
    assign_target: str | None = None  # comprehensions: the name the result is bound to
    wrapper: str | None = None  # GENERATOR_CALL: builtin applied to the result list ('sum')
    # FOR_LOOP: names left bound after the loop (target + body bindings), each taken
    # from the last iteration that bound it; unbound by every iteration -> untouched.
    locals_left_behind: frozenset[str] = frozenset()

    def describe(self) -> str:
        """Short text for --explain."""
        over = ast.unparse(self.iterable)
        return f"{self.kind.value} over {over}"


@dataclass(frozen=True)
class FanOutContext:
    """What the plan knows when the statement runs."""

    env: Env
    resolver: HiddenResolver
    bound_before: Container[str]  # names bound before this statement (namespace or cell)
    consumable: frozenset[str] = frozenset()  # names holding one-shot iterators
    aliases: Callable[[Iterable[str]], frozenset[str]] = field(default=frozenset)


WRAPPERS = frozenset({"list", "tuple", "set", "sorted", "sum", "min", "max", "dict"})
_COMPS = {
    ast.ListComp: FanOutKind.LIST_COMP,
    ast.SetComp: FanOutKind.SET_COMP,
    ast.DictComp: FanOutKind.DICT_COMP,
}
# Constructs that make iterations order-dependent or hide what they bind.
_FORBIDDEN_IN_LOOP = (
    ast.Break,
    ast.Continue,
    ast.Return,
    ast.Yield,
    ast.YieldFrom,
    ast.Await,
    ast.Global,
    ast.Nonlocal,
    ast.Delete,
    ast.Try,
    ast.TryStar,
    ast.While,
    ast.With,
    ast.AsyncWith,
    ast.AsyncFor,
    ast.Match,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,  # plain Python closures see the LAST iteration's variables
    ast.NamedExpr,
    ast.Import,
    ast.ImportFrom,
)
_FRESH_VALUES = (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.Constant)


def detect_fanout(node: ast.stmt, ctx: FanOutContext) -> FanOut | None:
    """FanOut for `node` if its iterations are provably independent, else None."""
    if isinstance(node, ast.For):
        return _for_loop(node, ctx)
    if isinstance(node, ast.Assign):
        return _comprehension(node, ctx)
    return None


def may_fan_out(node: ast.stmt) -> bool:
    """False for statements `detect_fanout` would refuse on their shape alone.

    A first look that spares building a context for the many statements that
    are neither a for loop nor a name bound to a comprehension.
    """
    if isinstance(node, ast.For):
        return True
    return isinstance(node, ast.Assign) and _comprehension_shape(node) is not None


# --- comprehensions -----------------------------------------------------------


def _comprehension_shape(
    node: ast.Assign,
) -> tuple[ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp, str | None] | None:
    """`name = <comprehension>` or `name = wrapper(<generator>)`: the comprehension and
    the wrapper's name (not yet checked to be the builtin)."""
    if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
        return None
    value = node.value
    if isinstance(value, ast.Call):
        func = value.func
        if (
            isinstance(func, ast.Name)
            and func.id in WRAPPERS
            and len(value.args) == 1
            and not value.keywords
            and isinstance(value.args[0], ast.GeneratorExp)
        ):
            return value.args[0], func.id
        return None
    if type(value) in _COMPS:
        return value, None  # type: ignore[return-value]
    return None


def _comprehension(node: ast.Assign, ctx: FanOutContext) -> FanOut | None:
    shape = _comprehension_shape(node)
    if shape is None:
        return None
    value, wrapper = shape
    if wrapper is not None and not is_builtin_name(wrapper, ctx.env):
        return None
    kind = FanOutKind.GENERATOR_CALL if wrapper else _COMPS[type(value)]
    if len(value.generators) != 1:
        return None
    gen = value.generators[0]
    if gen.is_async or not _simple_target(gen.target):
        return None
    parts = [value.key, value.value] if isinstance(value, ast.DictComp) else [value.elt]
    if not any(isinstance(n, ast.Call) for p in parts for n in walk(p)):
        return None  # nothing worth a task
    if any(isinstance(n, ast.NamedExpr | ast.Lambda | ast.Await) for n in walk(value)):
        return None
    if not _pure(ast.Expr(value=value), ctx):
        return None
    return FanOut(
        kind=kind,
        iterable=gen.iter,
        target=gen.target,
        element=parts[0],
        value=parts[1] if len(parts) > 1 else None,
        conditions=tuple(gen.ifs),
        assign_target=node.targets[0].id,
        wrapper=wrapper,
    )


def _pure(node: ast.stmt, ctx: FanOutContext) -> bool:
    """No effect, no in-place change, nothing consumed, nothing hidden."""
    facts = statement_facts(node, ctx.env, value_only=True)
    lambdas = [f for f in facts.functions if f.name is None]
    hidden = ctx.resolver.of_names(facts.reads, lambdas)
    return not (
        facts.effect
        or facts.opaque
        or facts.mutates
        or hidden.effect
        or hidden.opaque
        or hidden.writes
        or (facts.reads | hidden.reads) & ctx.consumable
        or (facts.call_sites and ctx.resolver.argument_writes(facts.call_sites))
    )


def _simple_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Name):
        return True
    if isinstance(target, ast.Starred):
        return _simple_target(target.value)
    return isinstance(target, ast.Tuple | ast.List) and all(_simple_target(e) for e in target.elts)


def _target_names(target: ast.expr) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(target) if isinstance(n, ast.Name))


# --- for loops ------------------------------------------------------------------


def _for_loop(node: ast.For, ctx: FanOutContext) -> FanOut | None:
    if node.orelse or not _simple_target(node.target):
        return None
    body_nodes = [n for stmt in node.body for n in ast.walk(stmt)]
    if any(isinstance(n, _FORBIDDEN_IN_LOOP) for n in body_nodes):
        return None
    targets = _target_names(node.target)
    written = _bound_in(node.body)
    fresh = _fresh_locals(node.body)
    accumulators: list[Accumulator] = []
    checker = _LoopChecker(ctx, written | targets, fresh, accumulators)
    if checker.block(node.body, set(targets)) is None:
        return None
    # An accumulator must only be fed: any other mention makes order observable.
    loads = [n.id for n in body_nodes if isinstance(n, ast.Name)]
    names = {a.name for a in accumulators}
    iter_names = ctx.aliases(
        n.id for n in ast.walk(node.iter) if isinstance(n, ast.Name)
    ) | frozenset(n.id for n in ast.walk(node.iter) if isinstance(n, ast.Name))
    hidden = ctx.resolver.of_names(n.id for n in body_nodes if isinstance(n, ast.Name))
    if hidden.reads & (targets | written):
        return None  # a function the body calls reads the loop's variable as a global
    for name in names:
        if name in hidden.reads:
            return None
        if loads.count(name) != checker.feeds.get(name, 0) or name in iter_names:
            return None
        if name in targets or name in written or name not in ctx.bound_before:
            return None
    return FanOut(
        kind=FanOutKind.FOR_LOOP,
        iterable=node.iter,
        target=node.target,
        body=tuple(node.body),
        accumulators=tuple(dict.fromkeys(accumulators)),
        locals_left_behind=targets | written,
    )


def _bound_in(stmts: list[ast.stmt]) -> frozenset[str]:
    names: set[str] = set()
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
    return frozenset(names)


def _fresh_locals(stmts: list[ast.stmt]) -> frozenset[str]:
    """Body names only ever bound to new containers or constants: safe to change in place.

    `x += ...` keeps a name's status (it changes the object already bound).
    """
    fresh: set[str] = set()
    stale: set[str] = set()
    handled: set[int] = set()
    nodes = [n for stmt in stmts for n in ast.walk(stmt)]
    for n in nodes:
        if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
            (fresh if isinstance(n.value, _FRESH_VALUES) else stale).add(n.targets[0].id)
            handled.add(id(n.targets[0]))
        elif isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name):
            handled.add(id(n.target))
    for n in nodes:
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and id(n) not in handled:
            stale.add(n.id)
    return frozenset(fresh - stale)


@dataclass
class _LoopChecker:
    """Walks the body in order: locals must be assigned before they are read."""

    ctx: FanOutContext
    local: frozenset[str]  # loop target and names the body binds
    fresh: frozenset[str]  # locals safe to change in place
    accumulators: list[Accumulator]
    feeds: dict[str, int] = field(default_factory=dict)

    def block(self, stmts: list[ast.stmt], assigned: set[str]) -> set[str] | None:
        """Names definitely assigned after `stmts`, or None if iterations may interact."""
        for stmt in stmts:
            result = self.statement(stmt, assigned)
            if result is None:
                return None
            assigned = result
        return assigned

    def _reads_ok(self, exprs: Iterable[ast.AST], assigned: set[str]) -> bool:
        for expr in exprs:
            for n in ast.walk(expr):
                if (
                    isinstance(n, ast.Name)
                    and isinstance(n.ctx, ast.Load)
                    and n.id in self.local
                    and n.id not in assigned
                ):
                    return False  # value carried over from an earlier iteration
        return True

    def statement(self, stmt: ast.stmt, assigned: set[str]) -> set[str] | None:
        if isinstance(stmt, ast.If):
            if not (self._reads_ok([stmt.test], assigned) and self._pure_expr(stmt.test)):
                return None
            then = self.block(stmt.body, set(assigned))
            other = self.block(stmt.orelse, set(assigned))
            return None if then is None or other is None else then & other
        if isinstance(stmt, ast.For):
            if not (self._reads_ok([stmt.iter], assigned) and self._pure_expr(stmt.iter)):
                return None
            if stmt.orelse or not _simple_target(stmt.target):
                return None
            inner = self.block(stmt.body, assigned | _target_names(stmt.target))
            return None if inner is None else assigned
        if (
            isinstance(stmt, ast.AugAssign)
            and isinstance(stmt.target, ast.Name)
            and stmt.target.id not in assigned
        ):
            return None  # `acc += x`: carried from the previous iteration
        accumulator = _accumulator(stmt)
        if accumulator is not None and accumulator[0] not in self.local:
            name, kind, exprs = accumulator
            if not (self._reads_ok(exprs, assigned) and all(map(self._pure_expr, exprs))):
                return None
            self.accumulators.append(Accumulator(name, kind))
            self.feeds[name] = self.feeds.get(name, 0) + 1
            return assigned
        if not self._reads_ok([stmt], assigned):
            return None
        if not self._local_change_ok(stmt):
            return None
        return assigned | _bound_in([stmt])

    def _pure_expr(self, expr: ast.expr) -> bool:
        return _pure(ast.Expr(value=expr), self.ctx)

    def _local_change_ok(self, stmt: ast.stmt) -> bool:
        """Assignments, and in-place changes of fresh locals only."""
        if isinstance(stmt, ast.Expr):
            call = stmt.value
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name)
                and call.func.value.id in self.fresh
            ):
                return False
            return all(self._pure_expr(a) for a in (*call.args, *(k.value for k in call.keywords)))
        if isinstance(stmt, ast.AugAssign):
            if not (isinstance(stmt.target, ast.Name) and stmt.target.id in self.fresh):
                return False
            return self._pure_expr(stmt.value)
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if stmt.value is None or not all(self._local_target(t) for t in targets):
                return False
            return self._pure_expr(stmt.value)
        return isinstance(stmt, ast.Pass)

    def _local_target(self, target: ast.expr) -> bool:
        if isinstance(target, ast.Subscript | ast.Attribute):
            return isinstance(target.value, ast.Name) and target.value.id in self.fresh
        return _simple_target(target)


def _accumulator(stmt: ast.stmt) -> tuple[str, AccumulatorKind, list[ast.expr]] | None:
    """`out.append(v)` / `out.add(v)` / `out[k] = v`, with `out` a plain name."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        call = stmt.value
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.attr in ("append", "add")
            and len(call.args) == 1
            and not call.keywords
            and not isinstance(call.args[0], ast.Starred)
        ):
            kind = AccumulatorKind.APPEND if func.attr == "append" else AccumulatorKind.ADD
            return func.value.id, kind, [call.args[0]]
    if (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Subscript)
        and isinstance(stmt.targets[0].value, ast.Name)
        and not isinstance(stmt.targets[0].slice, ast.Slice)
    ):
        target = stmt.targets[0]
        return target.value.id, AccumulatorKind.SETITEM, [target.slice, stmt.value]
    return None
