"""Per-statement name facts: what a statement reads, binds, changes in place.

The plan turns these into edges; this module only looks at one statement (or
one function body) at a time, so it knows nothing about order.  Everything is
over-approximated: a name we are unsure about counts as touched.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from kernel_ext.analysis.effects import (
    ARGUMENT_MUTATING_METHODS,
    DATA_MUTATING_METHODS,
    EFFECT_METHODS,
    FILES,
    PURE_DECORATORS,
    CallKind,
    classify_qualname,
    module_state_reason,
    string_expression_reads,
)

_EMPTY: Mapping[str, str] = MappingProxyType({})
_NO_CALLABLES: Mapping[str, bool] = MappingProxyType({})
_LOAD = ast.Load


@dataclass(frozen=True)
class Env:
    """What is known about names when a statement runs (from namespace and earlier imports)."""

    # name -> dotted qualified name of the module / library callable it refers to
    qualnames: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    # names known to refer to modules: calling through them changes no user object
    modules: frozenset[str] = frozenset()
    # names that exist in the namespace or are bound by the cell: they shadow builtins
    user_names: frozenset[str] = frozenset()
    # names known to hold immutable values: method calls on them are not writes
    immutables: frozenset[str] = frozenset()
    # names whose value, when called, cannot be seen through (a bound method, a
    # callable object, a cached wrapper, a value the cell computed): such a call may
    # change whatever it reaches.  Mapped to whether the value may be such a callable
    # when merely passed on (`map(tick, xs)`).  Owned and grown by the plan builder.
    unknown_callables: Mapping[str, bool] = field(default_factory=lambda: _NO_CALLABLES)
    # names that hold numpy arrays or pandas objects (from the namespace, until rebound):
    # their methods are known, and only the listed ones change the object
    data_objects: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def qualify(self, path: tuple[str, ...]) -> str | None:
        """Qualified name of a dotted call path, or None when unknown."""
        root = path[0]
        if root in self.qualnames:
            return ".".join((self.qualnames[root], *path[1:]))
        if len(path) == 1 and is_builtin_name(root, self):
            return f"builtins.{root}"
        return None

    def forgetting_immutables(self, names: frozenset[str]) -> Env:
        """This env, with `names` (rebound) no longer known to hold immutable values."""
        # Not dataclasses.replace: this runs for most statements of a long cell.
        return Env(
            self.qualnames,
            self.modules,
            self.user_names,
            self.immutables - names,
            self.unknown_callables,
            self.data_objects,
        )


_BUILTINS = vars(builtins)  # the live dict: IPython adds names (display, get_ipython) later


def is_builtin_name(name: str, env: Env) -> bool:
    """True when `name` refers to the builtin of that name (not shadowed by the user)."""
    if name in env.user_names:
        return False
    # hasattr(builtins, name), without raising and catching an AttributeError for
    # the usual non-builtin name: only dunder names come from the module type.
    return name in _BUILTINS or (name[:2] == "__" and hasattr(builtins, name))


@dataclass(frozen=True)
class FunctionBody:
    """A function or lambda whose body runs later, whenever it is called."""

    name: str | None  # bound name for def/class, None for lambdas
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef


@dataclass(frozen=True)
class CallSite:
    """A call of a plain name, ``f(a, *b, k=c, **d)``: the names each argument may hand over.

    Used to charge the caller with the arguments a notebook function changes.
    """

    func: str
    positional: tuple[frozenset[str], ...]  # the positional arguments before any *args
    starred: frozenset[str]  # names in *args and in the positional arguments after one
    keywords: tuple[tuple[str, frozenset[str]], ...]  # keyword arguments by name
    double_starred: frozenset[str]  # names in **kwargs


@dataclass(frozen=True)
class NameFacts:
    """What one statement (or one function body) does to names."""

    reads: frozenset[str]  # names loaded from the enclosing (cell/global) scope
    binds: frozenset[str]  # names bound or deleted in that scope
    mutates: frozenset[str]  # names whose object may be changed in place
    effect: bool  # calls an effectful API (print, random, os, I/O methods...)
    discarded_call: bool  # an expression statement whose call result is thrown away
    opaque: bool  # exec/eval/globals()/star import/await...: analysis cannot see through
    functions: tuple[FunctionBody, ...] = ()  # deferred bodies created by this statement
    global_decls: frozenset[str] = frozenset()  # `global` names (function bodies only)
    called: frozenset[str] = frozenset()  # root names of plain calls f(...) (not methods)
    call_sites: tuple[CallSite, ...] = ()  # plain-name calls and what their arguments hand over
    # name -> names whose object it may hold, from bindings inside the statement
    # (loop and comprehension targets, assignments in blocks): changing it changes them
    flows: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    setting: bool = False  # changes process-wide state: ordered against everything
    notes: tuple[str, ...] = ()  # why it is ordered, in words, for --explain


# Fields whose values are never nodes with names in them: contexts, operators,
# identifiers, numbers.  ("name" is not here: `type X = ...` keeps a Name there.)
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "id", "attr", "arg", "asname", "module", "level", "type_comment",
     "conversion", "is_async", "simple", "kind", "tag"}
)
_NODE_FIELDS: dict[type, tuple[str, ...]] = {}


def _node_fields(kind: type) -> tuple[str, ...]:
    """The fields of a node type that may hold nodes with names, in `_fields` order (remembered)."""
    fields = _NODE_FIELDS[kind] = tuple(f for f in kind._fields if f not in _LEAF_FIELDS)
    return fields


def walk(node: ast.AST) -> list[ast.AST]:
    """`node` and every node under it (not contexts or operators), like a list of `ast.walk`.

    In another order, and several times faster: `ast.walk` goes through two
    generators per node, which made the walks a large part of a long cell's analysis.
    """
    found: list[ast.AST] = []
    todo = [node]
    pop, push, extend, keep = todo.pop, todo.append, todo.extend, found.append
    AST = ast.AST  # noqa: N806 - a local, for speed
    fields_of = _NODE_FIELDS
    while todo:
        node = pop()
        keep(node)
        kind = type(node)
        fields = fields_of.get(kind)
        if fields is None:
            fields = _node_fields(kind)
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                extend([item for item in value if isinstance(item, AST)])
            elif isinstance(value, AST):
                push(value)
    return found


def loaded_names(expr: ast.AST) -> frozenset[str]:
    """Every name `expr` loads (nested scopes included)."""
    return frozenset(
        n.id for n in walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    )


def receiver_roots(expr: ast.expr) -> frozenset[str]:
    """Names whose object `expr` may be part of (x for x.a[0].b; every name otherwise)."""
    while isinstance(expr, ast.Attribute | ast.Subscript | ast.Starred):
        expr = expr.value
    if isinstance(expr, ast.Name):
        return frozenset({expr.id})
    return loaded_names(expr)


def call_path(func: ast.expr) -> tuple[str, ...] | None:
    """Dotted path of a call target (('np', 'random', 'seed')), None if not a plain chain."""
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
        return tuple(reversed(parts))
    return None


@dataclass
class _Collector(ast.NodeVisitor):
    """Walks one scope; nested function bodies are recorded, not walked."""

    env: Env
    in_function: bool = False
    loads: set[str] = field(default_factory=set)
    stores: set[str] = field(default_factory=set)
    mutates: set[str] = field(default_factory=set)
    global_decls: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    call_sites: list[CallSite] = field(default_factory=list)
    functions: list[FunctionBody] = field(default_factory=list)
    effect: bool = False
    opaque: bool = False
    comp_scopes: list[set[str]] = field(default_factory=list)
    binding_comp_target: bool = False
    discarded: bool = False
    calls: int = 0  # Call nodes visited so far
    exempt: ast.AST | None = None  # the cell's final expression: its value is shown, not dropped
    value_only: bool = False  # the exempt expression is judged as a value, not as a call made
    exempt_flow: ast.AST | None = None  # the statement itself: its own bindings need no flows
    flows: dict[str, set[str]] = field(default_factory=dict)
    comp_mutates: set[str] = field(default_factory=set)  # comprehension locals changed in place
    setting: bool = False
    notes: list[str] = field(default_factory=list)

    # --- dispatch ----------------------------------------------------------
    # ast.NodeVisitor's visit builds the method name and looks it up for every
    # node, and its generic_visit goes through generators: the same walk, in the
    # same order, with the method found once per node type.
    def visit(self, node: ast.AST) -> None:
        method = _DISPATCH.get(type(node))
        if method is None:
            method = _method(type(node))
        method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        AST = ast.AST  # noqa: N806 - locals for speed
        dispatch = _DISPATCH
        kind = type(node)
        fields = _NODE_FIELDS.get(kind)
        if fields is None:
            fields = _node_fields(kind)
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        (dispatch.get(type(item)) or _method(type(item)))(self, item)
            elif isinstance(value, AST):
                (dispatch.get(type(value)) or _method(type(value)))(self, value)

    # The commonest nodes visit their children directly (the same order as
    # generic_visit: the fields that hold nodes, as `_fields` lists them).
    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.visit(node.left)
        self.visit(node.right)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)
        self.visit(node.slice)

    def visit_keyword(self, node: ast.keyword) -> None:
        self.visit(node.value)

    # --- names -------------------------------------------------------------
    def _is_comp_local(self, name: str) -> bool:
        scopes = self.comp_scopes
        return bool(scopes) and any(name in scope for scope in scopes)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, _LOAD):
            scopes = self.comp_scopes
            if not scopes or not self._is_comp_local(node.id):
                self.loads.add(node.id)
        elif self.binding_comp_target:
            self.comp_scopes[-1].add(node.id)
        else:
            self.stores.add(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        # A walrus binds in the enclosing scope even inside a comprehension.
        self.visit(node.value)
        self.stores.add(node.target.id)

    def _mutate_target(self, target: ast.expr) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            roots = receiver_roots(target.value)
            self._note_module_store(target, roots)
            self.mutates |= self._outer(roots)
            self.comp_mutates |= roots - self.mutates
        elif isinstance(target, ast.Tuple | ast.List):
            for elt in target.elts:
                self._mutate_target(elt)
        elif isinstance(target, ast.Starred):
            self._mutate_target(target.value)

    def _outer(self, names: frozenset[str]) -> set[str]:
        return {n for n in names if not self._is_comp_local(n)}

    def _flow(self, targets: ast.expr, source: ast.expr) -> None:
        """Names bound by `targets` may hold (part of) what `source` loads.

        Not a builtin it loads: `range`, `len`... cannot be changed through what they
        return (`for i in range(n): out.append(i)` changes `out`, never `range`)."""
        loaded = {n for n in loaded_names(source) if not is_builtin_name(n, self.env)}
        if not loaded:
            return
        for node in walk(targets):
            if isinstance(node, ast.Name):
                self.flows.setdefault(node.id, set()).update(loaded)

    def _note_module_store(self, target: ast.expr, roots: frozenset[str]) -> None:
        """`pd.options.display.max_rows = 5`, `os.environ['X'] = ...`: process-wide state."""
        if self.in_function or not roots & self.env.modules:
            return
        path = call_path(target.value if isinstance(target, ast.Subscript) else target)
        qualname = self.env.qualify(path) if path else None
        self._setting(module_state_reason(qualname) if qualname else None, target)

    def _setting(self, reason: str | None, node: ast.AST) -> None:
        self.setting = True
        self.opaque = True
        what = ast.unparse(node)
        self.notes.append(f"{reason or 'changes module state'} (`{_short(what)}`)")

    def _unknown_call(self, node: ast.Call, why: str) -> None:
        """A call the analysis cannot see through: it may change everything it is handed
        (and the object it is a method of), and keeps its order with other effects."""
        self.effect = True
        # The function's own module too (`helpers.load()` may change `helpers.CALLS`).
        module = set(receiver_roots(node.func))
        roots: set[str] = set()
        for arg in node.args:
            roots |= receiver_roots(arg)
        for keyword in node.keywords:
            roots |= receiver_roots(keyword.value)
        roots = (roots - self.env.modules) | module
        roots = {n for n in roots if not is_builtin_name(n, self.env)}
        self.mutates |= self._outer(frozenset(roots))
        self.comp_mutates |= roots - self.mutates
        if not self.in_function:
            self.notes.append(why)

    # --- statements ----------------------------------------------------------
    def visit_Expr(self, node: ast.Expr) -> None:
        fresh = not self.loads and not self.comp_scopes  # e.g. a statement of its own
        calls_before = self.calls
        self.visit(node.value)
        if node is self.exempt and self.value_only:
            return
        # No call visited under it: look again, also where visiting does not go (lambda bodies).
        if self.calls == calls_before and not _contains_call(node.value):
            return
        # A call whose result is dropped is made for what it does: it may change
        # every object it is given.  At cell level it is also an effect.
        if fresh:
            args = set(self.loads)  # nothing loaded before: what the value loads
        else:
            sub = _Collector(self.env, in_function=self.in_function)
            sub.visit(node.value)
            args = sub.loads
        self.mutates |= {
            n
            for n in args - self.env.modules - self.env.immutables
            if not is_builtin_name(n, self.env) and not self._is_comp_local(n)
        }
        if not self.in_function:
            self.effect = True
            self.discarded = node is not self.exempt

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._mutate_target(target)
            self.visit(target)
            if node is not self.exempt_flow:  # a whole statement `x = ...`: nothing follows
                self._flow(target, node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            # x += y rebinds x and, for mutable x, changes the object in place.
            self.loads.add(node.target.id)
            self.stores.add(node.target.id)
            self.mutates.add(node.target.id)
        else:
            self._mutate_target(node.target)
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
        if not self.in_function:
            self.visit(node.annotation)
            self.stores.add("__annotations__")
        if node.value is not None or not isinstance(node.target, ast.Name):
            self._mutate_target(node.target)
            self.visit(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._mutate_target(target)
            self.visit(target)

    def visit_Import(self, node: ast.Import) -> None:
        # Importing runs module code and reads sys.path and the working directory.
        self.effect = True
        for alias in node.names:
            self.stores.add(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.effect = True
        if node.module == "__future__":
            self.opaque = True
        for alias in node.names:
            if alias.name == "*":
                self.opaque = True  # hides which names it binds
            else:
                self.stores.add(alias.asname or alias.name)

    def visit_Global(self, node: ast.Global) -> None:
        if self.in_function:
            self.global_decls.update(node.names)
        else:
            self.opaque = True

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.opaque = self.opaque or not self.in_function

    def _top_level_only_opaque(self, node: ast.AST) -> None:
        if not self.in_function:
            self.opaque = True
        self.generic_visit(node)

    visit_Await = _top_level_only_opaque
    visit_Yield = _top_level_only_opaque
    visit_YieldFrom = _top_level_only_opaque
    visit_Return = _top_level_only_opaque
    visit_AsyncFor = _top_level_only_opaque
    visit_AsyncWith = _top_level_only_opaque

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            # __enter__/__exit__ are method calls on the context manager.
            self.mutates |= self._outer(receiver_roots(item.context_expr))
            if item.optional_vars is not None:
                self._mutate_target(item.optional_vars)
                self.visit(item.optional_vars)
                self._flow(item.optional_vars, item.context_expr)
        for stmt in node.body:
            self.visit(stmt)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self._mutate_target(node.target)
        self.visit(node.target)
        self._flow(node.target, node.iter)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.stores.add(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.stores.add(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.stores.add(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.stores.add(node.rest)
        self.generic_visit(node)

    # --- deferred bodies -----------------------------------------------------
    def _visit_arguments(self, args: ast.arguments) -> None:
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.visit(default)
        if not self.in_function:
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.visit(arg.annotation)

    def _apply_decorators(self, decorators: list[ast.expr]) -> None:
        """A decorator is called with the new function: `@registry.add` changes registry."""
        for decorator in decorators:
            self.visit(decorator)
            path = call_path(decorator.func if isinstance(decorator, ast.Call) else decorator)
            qualname = self.env.qualify(path) if path else None
            if qualname in PURE_DECORATORS:
                continue
            roots = receiver_roots(decorator.func if isinstance(decorator, ast.Call) else decorator)
            self.mutates |= self._outer(roots) - self.env.modules
            if isinstance(decorator, ast.Call) or (qualname and classify_qualname(qualname)
                                                   is not CallKind.PURE):
                self.effect = True
                if not self.in_function:
                    self.notes.append(f"applies the decorator `{_short(ast.unparse(decorator))}`")

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._apply_decorators(node.decorator_list)
        self._visit_arguments(node.args)
        if node.returns is not None and not self.in_function:
            self.visit(node.returns)
        self.stores.add(node.name)
        self.functions.append(FunctionBody(node.name, node))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_arguments(node.args)
        self.functions.append(FunctionBody(None, node))

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._apply_decorators(node.decorator_list)
        for expr in (*node.bases, *node.keywords):
            self.visit(expr)
        # The class body runs now, in its own scope; its methods run later.
        body = _Collector(self.env, in_function=True)
        for stmt in node.body:
            body.visit(stmt)
        self.loads |= self._outer(frozenset(body.loads - body.stores))
        self.effect |= body.effect
        self.opaque |= body.opaque
        self.stores.add(node.name)
        self.functions.append(FunctionBody(node.name, node))

    # --- comprehensions --------------------------------------------------------
    def _visit_comprehension(self, generators: list[ast.comprehension], *elts: ast.expr) -> None:
        self.visit(generators[0].iter)  # evaluated in the enclosing scope
        self.comp_scopes.append(set())
        try:
            for i, gen in enumerate(generators):
                if i:
                    self.visit(gen.iter)
                self.binding_comp_target = True
                try:
                    self.visit(gen.target)
                finally:
                    self.binding_comp_target = False
                self._flow(gen.target, gen.iter)
                for cond in gen.ifs:
                    self.visit(cond)
                if gen.is_async and not self.in_function:
                    self.opaque = True
            for elt in elts:
                self.visit(elt)
        finally:
            self.comp_scopes.pop()

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._visit_comprehension(node.generators, node.elt)

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._visit_comprehension(node.generators, node.key, node.value)

    # --- calls -----------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        self.calls += 1
        visit = self.visit
        visit(node.func)
        for arg in node.args:
            visit(arg)
        for keyword in node.keywords:
            visit(keyword.value)
        nargs = len(node.args) + len(node.keywords)
        path = call_path(node.func)
        kind = CallKind.PURE
        qualname = None
        if path is not None and not self._is_comp_local(path[0]):
            qualname = self.env.qualify(path)
            if qualname is not None:
                kind = classify_qualname(qualname, nargs)
            elif len(path) == 1 and path[0] in self.env.unknown_callables:
                kind = CallKind.UNKNOWN
            if len(path) == 1:
                self.called.add(path[0])
                if not is_builtin_name(path[0], self.env):
                    self.call_sites.append(self._call_site(path[0], node))
        elif path is None and not isinstance(node.func, ast.Attribute):
            kind = CallKind.UNKNOWN  # getattr(o, m)(), handlers[k](), make()(), ...
        if kind in (CallKind.PURE, CallKind.READS_FILES) and qualname is not None:
            kind = self._kind_of_callbacks(node) if kind is CallKind.PURE else kind
        if isinstance(node.func, ast.Attribute):
            if kind is CallKind.PURE and node.func.attr in EFFECT_METHODS:
                kind = CallKind.EFFECT
            if qualname is not None and kind is not CallKind.SETTING and path and len(path) > 2:
                reason = module_state_reason(qualname)
                if reason is not None:
                    self._setting(reason, node.func)
            roots = receiver_roots(node.func.value)
            # A method call may change its receiver (and whatever it is part of),
            # unless it is a known read-only method of a numpy or pandas object.
            if not self._reads_data_object(node, roots):
                self.mutates |= self._outer(roots) - self.env.modules - self.env.immutables
                self.comp_mutates |= roots - self.mutates
            if node.func.attr in ARGUMENT_MUTATING_METHODS and node.args:
                self._mutate_argument(node.args[0])
        for keyword in node.keywords:
            if keyword.arg == "out":  # numpy's out=: the result is written into it
                self._mutate_argument(keyword.value)
        if qualname is None and isinstance(node.func, ast.Attribute) and (
            node.func.attr in ("query", "eval")
        ):
            qualname = "pandas.DataFrame." + node.func.attr  # df.query('a > @cutoff')
        for expression in string_expression_reads(qualname, node) if qualname else ():
            if "<string expression>" in expression:
                self.opaque = True
                self.notes.append("evaluates an expression built at run time")
            else:
                self.loads |= self._outer(expression)
        if kind is CallKind.OPAQUE or (path is not None and path[0] == "get_ipython"):
            self.opaque = True  # magics and shell commands after IPython's transforms
        elif kind is CallKind.EFFECT:
            self.effect = True
        elif kind is CallKind.SETTING:
            self._setting(module_state_reason(qualname or ""), node.func)
        elif kind is CallKind.UNKNOWN:
            what = _short(ast.unparse(node.func))
            self._unknown_call(node, f"calls `{what}`, which the analysis cannot see through")
        elif kind is CallKind.MUTATES_FIRST_ARG and node.args:
            self._mutate_argument(node.args[0])
        elif kind is CallKind.READS_FILES:
            self.loads.add(FILES)

    def _reads_data_object(self, node: ast.Call, roots: frozenset[str]) -> bool:
        """`df.groupby('k').v.sum()`, `arr.mean()`: a method of a numpy array or pandas
        object (held by a namespace name) that leaves it as it is."""
        assert isinstance(node.func, ast.Attribute)
        if len(roots) != 1 or node.func.attr in DATA_MUTATING_METHODS:
            return False
        if any(k.arg == "inplace" and not (isinstance(k.value, ast.Constant)
                                           and k.value.value is False) for k in node.keywords):
            return False
        (root,) = roots
        return root in self.env.data_objects and not self._is_comp_local(root)

    def _mutate_argument(self, arg: ast.expr) -> None:
        roots = receiver_roots(arg)
        self.mutates |= self._outer(roots)
        self.comp_mutates |= roots - self.mutates

    def _kind_of_callbacks(self, node: ast.Call) -> CallKind:
        """A library function handed `random.random` or `obj.method` calls it: the call
        is as effectful as its callbacks (notebook functions are charged elsewhere)."""
        kind = CallKind.PURE
        for arg in (*node.args, *(k.value for k in node.keywords)):
            path = call_path(arg)
            if path is None or self._is_comp_local(path[0]):
                continue
            qualname = self.env.qualify(path)
            if qualname is not None:
                inner = classify_qualname(qualname, 1)
                if inner in (CallKind.EFFECT, CallKind.UNKNOWN, CallKind.SETTING):
                    return CallKind.EFFECT
                if inner is CallKind.MUTATES_FIRST_ARG:
                    kind = CallKind.EFFECT
            elif len(path) == 1 and self.env.unknown_callables.get(path[0]):
                return CallKind.EFFECT
            elif len(path) > 1 and path[0] not in self.env.modules:
                # `map(cart.add, xs)`: a bound method handed on may change its object
                self._mutate_argument(arg)
        return kind

    def _call_site(self, func: str, node: ast.Call) -> CallSite:
        env = self.env

        def handed(expr: ast.expr) -> frozenset[str]:
            if _pandas_copy(expr, env):
                return frozenset()  # `f(df[c])`: under copy-on-write, f cannot change df
            roots = receiver_roots(expr)
            # A comprehension's own variable hands over what it iterates over.
            inner = {n for n in roots if self._is_comp_local(n)}
            for name in inner:
                roots = roots | self.flows.get(name, set())
            return frozenset(self._outer(roots) - env.modules - env.immutables)

        positional: list[frozenset[str]] = []
        starred: set[str] = set()
        for arg in node.args:
            if starred or isinstance(arg, ast.Starred):
                starred |= handed(arg)
            else:
                positional.append(handed(arg))
        keywords: list[tuple[str, frozenset[str]]] = []
        double_starred: set[str] = set()
        for keyword in node.keywords:
            if keyword.arg is None:
                double_starred |= handed(keyword.value)
            else:
                keywords.append((keyword.arg, handed(keyword.value)))
        return CallSite(
            func, tuple(positional), frozenset(starred), tuple(keywords), frozenset(double_starred)
        )

    def facts(self, *, discarded_call: bool = False) -> NameFacts:
        flows = self._closed_flows()  # first: it charges changed comprehension locals
        return NameFacts(
            reads=frozenset(self.loads),
            binds=frozenset(self.stores),
            mutates=frozenset(self.mutates),
            effect=self.effect,
            discarded_call=discarded_call,
            opaque=self.opaque,
            functions=tuple(self.functions),
            global_decls=frozenset(self.global_decls),
            called=frozenset(self.called),
            call_sites=tuple(self.call_sites),
            flows=flows,
            setting=self.setting,
            notes=tuple(dict.fromkeys(self.notes)),
        )

    def _closed_flows(self) -> Mapping[str, frozenset[str]]:
        """Flows, with comprehension locals changed in place charged to what they iterate."""
        if not self.flows:
            return _EMPTY
        flows = {name: frozenset(sources) for name, sources in self.flows.items()}
        for name in self.comp_mutates:
            self.mutates |= close_over_flows({name}, flows) - {name}
        return MappingProxyType(flows)


def _pandas_copy(expr: ast.expr, env: Env) -> bool:
    """`df[c]`, `df.loc[m]`, `df.a`: a part of a pandas object taken in the expression,
    which pandas' copy-on-write (always on from pandas 3) keeps apart from `df`."""
    if not isinstance(expr, ast.Subscript | ast.Attribute):
        return False
    root = expr
    while isinstance(root, ast.Subscript | ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return False
    module = env.data_objects.get(root.id, "")
    return module.startswith("pandas") and _copy_on_write()


def _copy_on_write() -> bool:
    import sys

    pandas = sys.modules.get("pandas")
    if pandas is None:
        return False
    try:
        return bool(int(pandas.__version__.split(".")[0]) >= 3
                    or pandas.get_option("mode.copy_on_write") is True)
    except Exception:  # noqa: BLE001 - an unusual pandas: assume views
        return False


def close_over_flows(names: AbstractSet[str], flows: Mapping[str, AbstractSet[str]]) -> set[str]:
    """`names` and every name whose object one of them may hold, through `flows`."""
    out = set(names)
    todo = [n for n in names if n in flows]
    while todo:
        for source in flows.get(todo.pop(), ()):
            if source not in out:
                out.add(source)
                todo.append(source)
    return out


def _short(text: str, width: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _leaf(collector: _Collector, node: ast.AST) -> None:
    """A constant: no names in it (what NodeVisitor.visit_Constant ends up doing here)."""


_DISPATCH: dict[type, Callable[[_Collector, Any], None]] = {ast.Constant: _leaf}
# Operators and contexts have no fields (and no visit_ method here): nothing to visit.
for _base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop):
    for _kind in _base.__subclasses__():
        assert not hasattr(_Collector, "visit_" + _kind.__name__)
        _DISPATCH[_kind] = _leaf


def _method(kind: type) -> Callable[[_Collector, Any], None]:
    """The visit_ method for a node type (as NodeVisitor.visit finds it), remembered."""
    name = "visit_" + kind.__name__
    method = _DISPATCH[kind] = getattr(_Collector, name, _Collector.generic_visit)
    return method


def _contains_call(expr: ast.expr) -> bool:
    return any(isinstance(n, ast.Call | ast.Await) for n in walk(expr))


def statement_facts(
    node: ast.stmt, env: Env, *, is_last: bool = False, value_only: bool = False
) -> NameFacts:
    """Facts for one top-level cell statement.

    An expression statement (anywhere in the statement, e.g. a loop body)
    that calls something throws the result away, so it is assumed to be called
    for its effect: it counts as an effect that may change every name it
    reads.  The cell's final expression is displayed, but a call there is still
    made for what it does: it is ordered like any other (`value_only` judges
    the expression as a value only, for the fan-out's purity checks).
    """
    collector = _Collector(env, exempt=node if is_last or value_only else None,
                           value_only=value_only, exempt_flow=node)
    collector.visit(node)
    return collector.facts(discarded_call=collector.discarded)


def body_facts(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, env: Env) -> NameFacts:
    """Facts about the globals a function body touches when it runs.

    `reads` are free names (not parameters or locals); `binds` are names it
    declares `global` and binds; `mutates` are free names it changes in place.
    Nested functions are folded in, minus the enclosing locals they close over.
    """
    collector = _Collector(env, in_function=True)
    args = node.args
    params = {
        a.arg
        for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
        if a is not None
    }
    body = [node.body] if isinstance(node, ast.Lambda) else node.body
    for stmt in body:
        collector.visit(stmt)
    local = (params | collector.stores) - collector.global_decls
    facts = collector.facts()
    # `buf = STATE['log']; buf.append(x)` changes STATE: follow locals to what they hold.
    changed = close_over_flows(facts.mutates, facts.flows)
    reads = set(collector.loads - local)
    mutates = set(changed - local)
    binds = set(collector.stores & collector.global_decls)
    effect, opaque = collector.effect, collector.opaque
    for inner in collector.functions:
        if isinstance(inner.node, ast.ClassDef):
            continue
        sub = body_facts(inner.node, env)
        reads |= sub.reads - local
        mutates |= sub.mutates - local
        binds |= sub.binds
        effect, opaque = effect or sub.effect, opaque or sub.opaque
    return NameFacts(
        reads=frozenset(reads),
        binds=frozenset(binds),
        mutates=frozenset(mutates),
        effect=effect,
        discarded_call=False,
        opaque=opaque,
        global_decls=frozenset(collector.global_decls),
        called=frozenset(collector.called - local),
    )


def class_body_functions(node: ast.ClassDef) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Methods (including those of nested classes) whose bodies run when the class is used."""
    found: list[ast.FunctionDef | ast.AsyncFunctionDef] = []
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(stmt)
        elif isinstance(stmt, ast.ClassDef):
            found.extend(class_body_functions(stmt))
    return found
