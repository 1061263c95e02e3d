"""Hidden reads and writes: the globals a notebook function touches when called.

`k = 10; r1 = f(1); k = 20; r2 = f(1)` only keeps r1 and r2 right if calling
`f` counts as reading `k`.  Functions defined in the cell are summarised from
their AST; functions already in the namespace from their bytecode.  Any
statement that *mentions* such a function (calls it, passes it to `map`,
stores it) is charged with its summary, transitively through the functions
its body mentions.
"""

from __future__ import annotations

import ast
import builtins
import dis
import functools
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from kernel_ext.analysis.effects import (
    EFFECT_METHODS,
    FILES,
    CallKind,
    classify_qualname,
    is_immutable,
    qualname_of,
)
from kernel_ext.analysis.names import (
    CallSite,
    Env,
    FunctionBody,
    body_facts,
    call_path,
    class_body_functions,
)
from kernel_ext.analysis.params import (
    EVERYTHING,
    MAX_CALL_DEPTH,
    ParamMutation,
    ast_param_mutation,
    code_objects,
    namespace_function_mutation,
)
from kernel_ext.analysis.state import (
    FUNCTION_STATE,
    class_def_state,
    class_functions,
    def_state_reason,
    default_names,
    value_state,
)

_MAX_NAMES = 500  # bound on the transitive closure; past it we give up and go opaque


@dataclass(frozen=True)
class Hidden:
    """What calling something does beyond its visible arguments."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    effect: bool = False
    opaque: bool = False
    self_writes: bool = False  # touching a name that reaches this changes that name's object
    notes: frozenset[str] = frozenset()  # why, in words (for --explain)

    def __or__(self, other: Hidden) -> Hidden:
        return Hidden(
            self.reads | other.reads,
            self.writes | other.writes,
            self.effect or other.effect,
            self.opaque or other.opaque,
            self.self_writes or other.self_writes,
            self.notes | other.notes,
        )


@dataclass(frozen=True)
class CellBinding:
    """What a name bound earlier in the cell may hold, for hidden-read purposes."""

    refers_to: frozenset[str]  # names whose functions the value may be or wrap
    bodies: tuple[FunctionBody, ...]  # defs / lambdas / classes it may be


def _is_notebook_function(value: object, namespace: Mapping[str, object]) -> bool:
    return isinstance(value, types.FunctionType) and (
        value.__globals__ is namespace or value.__module__ == "__main__"
    )


def _notebook_class_functions(
    cls: type, namespace: Mapping[str, object]
) -> list[types.FunctionType]:
    return class_functions(cls, lambda func: _is_notebook_function(func, namespace))


def _is_notebook_class(value: object, namespace: Mapping[str, object]) -> bool:
    return isinstance(value, type) and bool(_notebook_class_functions(value, namespace))


@dataclass
class HiddenResolver:
    """Charges statements with the hidden behaviour of the functions they mention."""

    namespace: Mapping[str, object]
    env: Env
    cell: dict[str, CellBinding] = field(default_factory=dict)
    _code_cache: dict[int, tuple[Hidden, frozenset[str]]] = field(default_factory=dict)
    # The namespace does not change while a cell is analysed: a namespace name's
    # summary (and a class's notebook methods) are worked out once per cell.
    _ns_cache: dict[str, tuple[Hidden, frozenset[str]]] = field(default_factory=dict)
    _class_cache: dict[int, list[types.FunctionType]] = field(default_factory=dict)

    # Closure of one name (every name reached from it) with the summary of them all.
    # Valid while no name in it is rebound (`bind` drops them all when it rebinds a
    # name any of them reached) and, when one reached a body defined in the cell
    # (summarised under the env of the moment), while the env is the same.
    _memo: dict[str, tuple[frozenset[str], Hidden]] = field(default_factory=dict)
    _memo_names: set[str] = field(default_factory=set)  # union of the memoised closures
    _memo_env: Env | None = None
    _memo_has_bodies: bool = False
    # Parameter summaries of functions (by id of code / AST node); they follow the
    # global names their bodies call, so rebinding one of those drops them all.
    _params: dict[int, ParamMutation] = field(default_factory=dict)
    _params_consulted: set[str] = field(default_factory=set)
    _params_busy: set[int] = field(default_factory=set)
    _by_id: dict[int, list[str]] | None = None

    def bind(self, name: str, binding: CellBinding) -> None:
        """Record that the cell (re)bound `name`: later lookups see this, not the namespace."""
        self.cell[name] = binding
        if name in self._memo_names:
            self._memo = {}
            self._memo_names = set()
        if name in self._params_consulted:
            self._params = {}
            self._params_consulted = set()

    def argument_writes(self, sites: Iterable[CallSite]) -> frozenset[str]:
        """Names handed to notebook functions' parameters that those functions may change.

        Functions from other modules (libraries) are assumed not to change the
        arguments of a call whose result is used (see docs/parallel_assumptions.md).
        """
        out: set[str] = set()
        for site in sites:
            summary = self._param_mutation(site.func, 0)
            if summary:
                out |= summary.written(site)
        return frozenset(out)

    def _param_mutation(self, name: str, depth: int) -> ParamMutation | None:
        """What calling `name` may do to its arguments; None: not a notebook function."""
        self._params_consulted.add(name)
        if depth > MAX_CALL_DEPTH:
            return EVERYTHING

        def callee(inner: str) -> ParamMutation | None:
            return self._param_mutation(inner, depth + 1)

        binding = self.cell.get(name)
        if binding is not None:
            summaries = [
                self._summary(id(body.node), lambda b=body: ast_param_mutation(b.node, callee))
                for body in binding.bodies
                if not isinstance(body.node, ast.ClassDef)
            ]
            # `g = f` / `g = partial(f, ...)`: positions may shift, so anything f changes.
            for other in binding.refers_to:
                if other != name and self._param_mutation(other, depth + 1):
                    summaries.append(EVERYTHING)
            if not summaries:
                return None
            if len(summaries) == 1:
                return summaries[0]
            return EVERYTHING if any(summaries) else summaries[0]
        if name not in self.namespace:
            return None
        value = self.namespace[name]
        if isinstance(value, functools.partial | types.MethodType):
            func = value.func if isinstance(value, functools.partial) else value.__func__
            if _is_notebook_function(func, self.namespace):
                inner = self._function_mutation(func, callee)
                return EVERYTHING if inner else inner
            return None
        if not _is_notebook_function(value, self.namespace):
            return None
        return self._function_mutation(value, callee)

    def _function_mutation(
        self, func: types.FunctionType, callee: Callable[[str], ParamMutation | None]
    ) -> ParamMutation:
        code = func.__code__
        return self._summary(id(code), lambda: namespace_function_mutation(func, callee))

    def _summary(self, key: int, compute: Callable[[], ParamMutation]) -> ParamMutation:
        known = self._params.get(key)
        if known is not None:
            return known
        if key in self._params_busy:
            return EVERYTHING  # recursion: assume the worst
        self._params_busy.add(key)
        try:
            summary = compute()
        finally:
            self._params_busy.discard(key)
        self._params[key] = summary
        return summary

    def of_names(self, names: Iterable[str], extra: Iterable[FunctionBody] = ()) -> Hidden:
        """Hidden effect of a statement that mentions `names` and creates `extra` lambdas.

        The union of the memoised closures of the names; when that passes
        `_MAX_NAMES`, the walk that gives up there (and goes opaque) is done instead.
        """
        if self._memo_env is not self.env:
            if self._memo_has_bodies:
                self._memo, self._memo_names, self._memo_has_bodies = {}, set(), False
            self._memo_env = self.env
        names = tuple(names)
        extra = tuple(extra)
        reads: set[str] = set()
        writes: set[str] = set()
        notes: set[str] = set()
        effect = opaque = False
        roots = list(names)
        for body in extra:
            hidden, mentioned = self._body(body)
            reads |= hidden.reads
            writes |= hidden.writes
            notes |= hidden.notes
            effect, opaque = effect or hidden.effect, opaque or hidden.opaque
            roots.extend(mentioned)
        reached: set[str] = set()
        memo = self._memo
        for root in roots:
            known = memo.get(root)
            closure, hidden = known if known is not None else self._closure(root)
            if hidden.self_writes:
                writes.add(root)  # `c.value` runs a property that may change c
            if root in reached:
                continue  # its closure is already in (closures are closed)
            reached |= closure
            if hidden is not _NOTHING:
                reads |= hidden.reads
                writes |= hidden.writes
                notes |= hidden.notes
                effect, opaque = effect or hidden.effect, opaque or hidden.opaque
        if len(reached) > _MAX_NAMES:
            return self._walk(names, extra)
        if not (reads or writes or effect or opaque):
            return _NOTHING  # the usual answer: no need for a new one
        return Hidden(frozenset(reads), frozenset(writes), effect, opaque,
                      notes=frozenset(notes))

    def _closure(self, root: str) -> tuple[frozenset[str], Hidden]:
        memo = self._memo
        known = memo.get(root)
        if known is not None:
            return known
        reads: set[str] = set()
        writes: set[str] = set()
        notes: set[str] = set()
        effect = opaque = self_writes = False
        seen: set[str] = set()
        todo = [root]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            known = memo.get(name)
            if known is not None:
                seen |= known[0]
                hidden = known[1]
            else:
                seen.add(name)
                hidden, mentioned = self._lookup(name)
                todo.extend(mentioned)
                binding = self.cell.get(name)
                if binding is not None and binding.bodies:
                    self._memo_has_bodies = True
            if hidden is not _NOTHING:
                reads |= hidden.reads
                writes |= hidden.writes
                notes |= hidden.notes
                effect, opaque = effect or hidden.effect, opaque or hidden.opaque
                self_writes = self_writes or hidden.self_writes
        if reads or writes or effect or opaque or self_writes:
            hidden = Hidden(frozenset(reads), frozenset(writes), effect, opaque, self_writes,
                            frozenset(notes))
        else:
            hidden = _NOTHING
        known = memo[root] = (frozenset(seen), hidden)
        self._memo_names |= seen
        return known

    def _walk(self, names: Iterable[str], extra: Iterable[FunctionBody] = ()) -> Hidden:
        """`of_names` by walking from the names, giving up past `_MAX_NAMES` names."""
        # Accumulated in place: OR-ing Hidden values copied the growing sets each time.
        reads: set[str] = set()
        writes: set[str] = set()
        effect = opaque = False
        seen: set[str] = set()
        todo = list(names)
        for body in extra:
            hidden, mentioned = self._body(body)
            reads |= hidden.reads
            writes |= hidden.writes
            effect, opaque = effect or hidden.effect, opaque or hidden.opaque
            todo.extend(mentioned)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            if len(seen) > _MAX_NAMES:
                return Hidden(frozenset(reads), frozenset(writes), effect, True)
            hidden, mentioned = self._lookup(name)
            if hidden is not _NOTHING:
                reads |= hidden.reads
                writes |= hidden.writes
                effect, opaque = effect or hidden.effect, opaque or hidden.opaque
                if hidden.self_writes and name in names:
                    writes.add(name)
            todo.extend(mentioned)
        return Hidden(frozenset(reads), frozenset(writes), effect, opaque)

    def _lookup(self, name: str) -> tuple[Hidden, frozenset[str]]:
        binding = self.cell.get(name)
        if binding is not None:
            if not binding.bodies:
                return _NOTHING, binding.refers_to
            hidden, mentioned = Hidden(), set(binding.refers_to)
            for body in binding.bodies:
                h, m = self._body(body)
                hidden |= h
                mentioned |= m
            return hidden, frozenset(mentioned)
        cached = self._ns_cache.get(name)
        if cached is None:
            if name not in self.namespace:
                cached = _NOTHING, frozenset()
            else:
                value = self.namespace[name]
                cached = self._with_state(name, value, *self._value(value))
            self._ns_cache[name] = cached
        return cached

    def _with_state(
        self, name: str, value: object, hidden: Hidden, mentioned: frozenset[str]
    ) -> tuple[Hidden, frozenset[str]]:
        """Add the state a namespace value keeps out of sight (see `state.value_state`)."""
        if type(value) in _PLAIN_SCALARS:
            return hidden, mentioned
        state = value_state(value)
        if state.reason is None and not state.functions and not state.reaches and not (
            state.access_runs_code
        ):
            return hidden, mentioned
        writes: set[str] = set()
        notes: set[str] = set()
        if state.reason is not None:
            writes |= {name, FUNCTION_STATE}
            notes.add(f"touches `{name}`, {state.reason}")
        for other in state.reaches:
            writes.update(self._names_of(other))
        extra = Hidden(frozenset(writes), frozenset(writes), False, False,
                       state.access_runs_code, frozenset(notes))
        hidden = hidden | extra
        seen: set[int] = {id(value)}
        todo = list(state.functions)
        while todo:  # functions held in closures, defaults, wrappers and containers
            func = todo.pop()
            if id(func) in seen or len(seen) > _MAX_NAMES:
                continue
            seen.add(id(func))
            inner, inner_mentioned = self._code(func.__code__)
            hidden = hidden | inner
            mentioned = mentioned | inner_mentioned
            inner_state = value_state(func)
            if inner_state.reason is not None:
                hidden = hidden | Hidden(frozenset({FUNCTION_STATE}), frozenset({FUNCTION_STATE}),
                                         notes=frozenset({f"touches `{name}`, which calls "
                                                          f"{inner_state.reason}"}))
            for other in inner_state.reaches:
                names = frozenset(self._names_of(other))
                hidden = hidden | Hidden(names, names)
            todo.extend(inner_state.functions)
        return hidden, mentioned

    def _names_of(self, object_id: int) -> list[str]:
        """Namespace names that hold the object with this id (a default, an owner...)."""
        if self._by_id is None:
            self._by_id = {}
            for key, value in self.namespace.items():
                if not key.startswith("_") and type(value) not in _PLAIN_SCALARS:
                    self._by_id.setdefault(id(value), []).append(key)
        return self._by_id.get(object_id, [])

    def _body(self, body: FunctionBody) -> tuple[Hidden, frozenset[str]]:
        if isinstance(body.node, ast.ClassDef):
            nodes: list = class_body_functions(body.node)
        else:
            nodes = [body.node]
        hidden = Hidden()
        for node in nodes:
            facts = body_facts(node, self.env)
            hidden |= Hidden(
                reads=facts.reads,
                writes=facts.binds | facts.mutates,
                effect=facts.effect,
                opaque=facts.opaque,
            )
        return hidden | _cell_def_state(body, self.env), hidden.reads | _cell_def_defaults(body)

    def _value(self, value: object) -> tuple[Hidden, frozenset[str]]:
        if isinstance(value, functools.partial):
            return self._value(value.func)
        if isinstance(value, types.MethodType):
            value = value.__func__
        if _is_notebook_function(value, self.namespace):
            return self._code(value.__code__)
        cls = value if isinstance(value, type) else type(value)
        functions = self._class_cache.get(id(cls))  # by id: a metaclass may define __eq__
        if functions is None:
            functions = _notebook_class_functions(cls, self.namespace)
            self._class_cache[id(cls)] = functions
        hidden, mentioned = Hidden(), frozenset[str]()
        for func in functions:
            h, m = self._code(func.__code__)
            hidden, mentioned = hidden | h, mentioned | m
        return hidden, mentioned

    def _code(self, code: types.CodeType) -> tuple[Hidden, frozenset[str]]:
        key = id(code)
        if key not in self._code_cache:
            self._code_cache[key] = self._summarise_code(code)
        return self._code_cache[key]

    def _summarise_code(self, code: types.CodeType) -> tuple[Hidden, frozenset[str]]:
        """Bytecode summary: LOAD_GLOBAL are reads, STORE_GLOBAL writes.

        A global used as the object of an attribute/method, or loaded in code
        that stores into subscripts/attributes, may be changed in place.
        """
        reads: set[str] = set()
        writes: set[str] = set()
        maybe_changed: set[str] = set()
        attrs: set[str] = set()
        for sub in code_objects(code):
            instructions = list(dis.get_instructions(sub))
            loaded: set[str] = set()
            stores_into_objects = False
            line_globals: set[str] = set()  # globals loaded on the current line
            line = None
            for i, instr in enumerate(instructions):
                if instr.positions is not None and instr.positions.lineno != line:
                    line, line_globals = instr.positions.lineno, set()
                if instr.opname in ("STORE_FAST", "STORE_DEREF") and line_globals:
                    # `buf = STATE['log']`: the local may be changed later as an object.
                    maybe_changed |= line_globals
                if instr.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
                    line_globals.add(instr.argval)
                    loaded.add(instr.argval)
                    nxt = instructions[i + 1].opname if i + 1 < len(instructions) else ""
                    if nxt in ("LOAD_ATTR", "LOAD_METHOD"):
                        maybe_changed.add(instr.argval)
                elif instr.opname in ("STORE_GLOBAL", "DELETE_GLOBAL", "STORE_NAME"):
                    writes.add(instr.argval)
                elif instr.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                    attrs.add(instr.argval)
                elif instr.opname in ("STORE_SUBSCR", "DELETE_SUBSCR", "STORE_ATTR", "DELETE_ATTR"):
                    stores_into_objects = True
            reads |= loaded
            if stores_into_objects:
                maybe_changed |= loaded
        effect, opaque = bool(attrs & EFFECT_METHODS), False
        for name in list(reads):
            kind = self._global_kind(name, attrs)
            if kind is CallKind.READS_FILES:
                reads.add(FILES)
            effect = effect or kind in (CallKind.EFFECT, CallKind.UNKNOWN)
            opaque = opaque or kind in (CallKind.OPAQUE, CallKind.SETTING)
        writes |= {name for name in maybe_changed if self._may_be_mutable(name)}
        hidden = Hidden(frozenset(reads), frozenset(writes), effect, opaque)
        return hidden, frozenset(reads)

    def _global_kind(self, name: str, attrs: set[str]) -> CallKind:
        if name in self.namespace:
            qualname = qualname_of(self.namespace[name])
            if qualname is None:
                return CallKind.PURE
            if isinstance(self.namespace[name], types.ModuleType):
                candidates = [f"{qualname}.x", *(f"{qualname}.{a}.x" for a in attrs)]
                kinds = {classify_qualname(c) for c in candidates}
                if CallKind.SETTING in kinds:
                    return CallKind.SETTING
                if CallKind.READS_FILES in kinds and not kinds & {CallKind.EFFECT,
                                                                   CallKind.UNKNOWN}:
                    return CallKind.READS_FILES
                if kinds & {CallKind.EFFECT, CallKind.UNKNOWN}:
                    return CallKind.EFFECT
                return CallKind.PURE
            return classify_qualname(qualname)
        if name in self.env.qualnames:
            return classify_qualname(f"{self.env.qualnames[name]}.x")
        if hasattr(builtins, name) and name not in self.env.user_names:
            kind = classify_qualname(f"builtins.{name}", nargs=0)
            return CallKind.EFFECT if kind is CallKind.MUTATES_FIRST_ARG else kind
        return CallKind.PURE

    def _may_be_mutable(self, name: str) -> bool:
        if name in self.cell:
            return True
        if name in self.namespace:
            value = self.namespace[name]
            return not (is_immutable(value) or isinstance(value, _NEVER_MUTATED))
        return name in self.env.user_names or not hasattr(builtins, name)


_NOTHING = Hidden()  # no hidden behaviour (identity-checked to skip merging)
_PLAIN_SCALARS = frozenset({int, float, str, bool, bytes, complex, type(None)})


def _cell_def_defaults(body: FunctionBody) -> frozenset[str]:
    if isinstance(body.node, ast.ClassDef):
        return frozenset()
    return default_names(body.node)


def _cell_def_state(body: FunctionBody, env: Env) -> Hidden:
    """State a function or class defined in the cell keeps (see `state`)."""
    node = body.node
    label = body.name or "a lambda"
    if isinstance(node, ast.ClassDef):
        reason, access = class_def_state(node)
    else:
        reason, access = def_state_reason(node), False
        for default in (*node.args.defaults, *node.args.kw_defaults):
            path = call_path(default) if default is not None else None
            qualname = env.qualify(path) if path else None
            if qualname is not None and classify_qualname(qualname) is not CallKind.PURE:
                reason = reason or f"a function whose default `{qualname}` has state of its own"
        defaults = default_names(node)
        if defaults:  # `def f(x, cols=COLUMNS)`: f may change what its default holds
            return Hidden(defaults, defaults) | _cell_def_state_of(label, reason, access)
    return _cell_def_state_of(label, reason, access)


def _cell_def_state_of(label: str, reason: str | None, access: bool) -> Hidden:
    if reason is None and not access:
        return _NOTHING
    state = frozenset({FUNCTION_STATE}) if reason else frozenset()
    notes = frozenset({f"touches `{label}`, {reason}"}) if reason else frozenset()
    return Hidden(state, state, self_writes=access or bool(reason), notes=notes)

_NEVER_MUTATED = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
