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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kernel_ext.analysis.effects import (
    EFFECT_METHODS,
    CallKind,
    classify_qualname,
    is_immutable,
    qualname_of,
)
from kernel_ext.analysis.names import Env, FunctionBody, body_facts, class_body_functions

_MAX_NAMES = 500  # bound on the transitive closure; past it we give up and go opaque


@dataclass(frozen=True)
class Hidden:
    """What calling something does beyond its visible arguments."""

    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    effect: bool = False
    opaque: bool = False

    def __or__(self, other: Hidden) -> Hidden:
        return Hidden(
            self.reads | other.reads,
            self.writes | other.writes,
            self.effect or other.effect,
            self.opaque or other.opaque,
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
    found = []
    for klass in cls.__mro__:
        for attr in vars(klass).values():
            func = getattr(attr, "__func__", attr)  # staticmethod / classmethod
            if isinstance(attr, property):
                func = attr.fget
            if _is_notebook_function(func, namespace):
                found.append(func)
    return found


def _is_notebook_class(value: object, namespace: Mapping[str, object]) -> bool:
    return isinstance(value, type) and bool(_notebook_class_functions(value, namespace))


def _code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


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

    def bind(self, name: str, binding: CellBinding) -> None:
        """Record that the cell (re)bound `name`: later lookups see this, not the namespace."""
        self.cell[name] = binding
        if name in self._memo_names:
            self._memo = {}
            self._memo_names = set()

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
        effect = opaque = False
        roots = list(names)
        for body in extra:
            hidden, mentioned = self._body(body)
            reads |= hidden.reads
            writes |= hidden.writes
            effect, opaque = effect or hidden.effect, opaque or hidden.opaque
            roots.extend(mentioned)
        reached: set[str] = set()
        for root in roots:
            if root in reached:
                continue  # its closure is already in (closures are closed)
            closure, hidden = self._closure(root)
            reached |= closure
            if hidden is not _NOTHING:
                reads |= hidden.reads
                writes |= hidden.writes
                effect, opaque = effect or hidden.effect, opaque or hidden.opaque
        if len(reached) > _MAX_NAMES:
            return self._walk(names, extra)
        return Hidden(frozenset(reads), frozenset(writes), effect, opaque)

    def _closure(self, root: str) -> tuple[frozenset[str], Hidden]:
        memo = self._memo
        known = memo.get(root)
        if known is not None:
            return known
        reads: set[str] = set()
        writes: set[str] = set()
        effect = opaque = False
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
                effect, opaque = effect or hidden.effect, opaque or hidden.opaque
        if reads or writes or effect or opaque:
            hidden = Hidden(frozenset(reads), frozenset(writes), effect, opaque)
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
                cached = self._value(self.namespace[name])
            self._ns_cache[name] = cached
        return cached

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
        return hidden, hidden.reads

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
        for sub in _code_objects(code):
            instructions = list(dis.get_instructions(sub))
            loaded: set[str] = set()
            stores_into_objects = False
            for i, instr in enumerate(instructions):
                if instr.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
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
        for name in reads:
            kind = self._global_kind(name, attrs)
            effect = effect or kind is CallKind.EFFECT
            opaque = opaque or kind is CallKind.OPAQUE
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
                return CallKind.EFFECT if CallKind.EFFECT in kinds else CallKind.PURE
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

_NEVER_MUTATED = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
