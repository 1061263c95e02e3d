"""Build the dependency plan of a cell: statements, edges, and why each edge exists.

Edges come from names (read-after-write, write-after-read, write-after-write),
plus three markers: ``<effect>`` chains effect statements in source order,
``<opaque>`` makes opaque statements full barriers, and ``<output>`` keeps the
displayed final value after all earlier effects.
"""

from __future__ import annotations

import ast
import gc
import types
from collections import deque
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import repeat
from typing import TypeVar

from kernel_ext.analysis.aliases import Aliases
from kernel_ext.analysis.effects import (
    FILES,
    THREAD_BOUND_MODULES,
)
from kernel_ext.analysis.env import PLAIN_DATA, initial_env, rebind_env
from kernel_ext.analysis.fanout import FanOut, FanOutContext, detect_fanout, may_fan_out
from kernel_ext.analysis.hidden import CellBinding, HiddenResolver
from kernel_ext.analysis.names import (
    Env,
    NameFacts,
    close_over_flows,
    is_builtin_name,
    statement_facts,
)
from kernel_ext.analysis.state import (
    is_generator_function,
    is_notebook_function,
    may_finalize,
    returns_iterator_def,
)
from kernel_ext.analysis.syntax import check_compiles
from kernel_ext.analysis.values import (
    has_contents,
    makes_iterator,
    may_yield_callable,
    returns_iterator,
)

EFFECT = "<effect>"
OPAQUE = "<opaque>"
OUTPUT = "<output>"


_NONE: frozenset[str] = frozenset()
_FILES_WRITTEN = frozenset({FILES})
_BULK_WRITE = 32  # writes of more names than this are not indexed name by name
_FEW_READERS = 16  # up to this many readers of a name are noted one by one, more in bulk

# Statements whose bound names stop aliasing anything (new objects, or no object at all).
_FORGETS_ALIASES = (
    ast.Delete, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom
)
_IMPORTS = (ast.Import, ast.ImportFrom)


K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Edge:
    """This statement must wait for statement `before`."""

    before: int  # index of the earlier statement
    reasons: frozenset[str]  # names that caused the edge, or <effect>/<opaque>/<output>


@dataclass(frozen=True)
class Statement:
    """One top-level statement of the cell and what it must wait for."""

    index: int  # 0-based position among the cell's top-level statements
    node: ast.stmt  # its AST; line numbers relative to the cell source, 1-based
    source: str  # its source text (including decorators)
    lineno: int  # first line (the first decorator for decorated defs)
    end_lineno: int  # last line
    reads: frozenset[str]  # names read, including hidden reads through notebook functions
    writes: frozenset[str]  # names bound, deleted or changed in place (also via aliases)
    effect: bool  # outside effect / hidden global state: ordered with every other effect
    opaque: bool  # analysis can't see through: ordered against every other statement
    produces_value: bool  # the last statement, when a bare expression (shown as Out[n])
    deps: tuple[Edge, ...]  # direct edges to earlier statements, ascending by `before`
    fanout: FanOut | None  # set when its iterations can run as separate tasks
    notes: tuple[str, ...] = ()  # why it is ordered as it is, in words (for --explain)
    main_thread: bool = False  # uses state tied to the kernel's thread (event loop, signals...)


@dataclass(frozen=True)
class CellPlan:
    """The analysed cell; `statements[i].index == i`."""

    source: str
    statements: tuple[Statement, ...]

    @property
    def needs_main_thread(self) -> bool:
        """Some statement must run on the kernel's own thread: the cell runs in order there."""
        return any(stmt.main_thread for stmt in self.statements)

    def explain(self) -> str:
        """Human-readable plan for `%%parallel --explain`."""
        lines: list[str] = []
        for stmt in self.statements:
            first = stmt.source.splitlines()[0] if stmt.source else ""
            short = first if len(first) <= 60 else first[:57] + "..."
            if stmt.source.count("\n"):
                short += " ..."
            flags = [
                flag
                for flag, on in (
                    ("effect", stmt.effect),
                    ("opaque", stmt.opaque),
                    ("value", stmt.produces_value),
                )
                if on
            ]
            if stmt.fanout is not None:
                flags.append(f"fan-out: {stmt.fanout.describe()}")
            suffix = f"  [{', '.join(flags)}]" if flags else ""
            lines.append(f"#{stmt.index} (line {stmt.lineno}) {short}{suffix}")
            lines.extend(f"    {note}" for note in stmt.notes)
            if not stmt.deps:
                lines.append("    runs independently")
            for edge in stmt.deps:
                why = ", ".join(sorted(edge.reasons))
                lines.append(f"    waits for #{edge.before} because of {why}")
        return "\n".join(lines)


def analyze_cell(
    source: str, namespace: Mapping[str, object] | None = None, filename: str = "<cell>"
) -> CellPlan:
    """Analyse `source` (plain Python, after IPython's transforms) into a plan.

    `namespace` is the user namespace before the cell runs; without it nothing
    is known about earlier cells.  SyntaxErrors propagate exactly as running
    the cell would raise them.
    """
    ns: Mapping[str, object] = namespace if namespace is not None else {}
    # Parsing and the analysis allocate many small objects that live until it
    # ends; the cyclic GC would scan them (and the whole kernel heap) again and again.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        tree = ast.parse(source, filename)
        check_compiles(source, tree, filename, ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        return _plan(source, ns, tree)
    finally:
        # The first allocation from now on has the GC go through every object made
        # since it was disabled and still alive: the builder's are freed by then.
        if gc_was_enabled:
            gc.enable()


def _plan(source: str, ns: Mapping[str, object], tree: ast.Module) -> CellPlan:
    builder = _Builder(source, ns, initial_env(ns, tree))
    for i, node in enumerate(tree.body):
        builder.add(i, node, is_last=i == len(tree.body) - 1)
    return CellPlan(source, tuple(builder.statements))


@dataclass
class _Builder:
    """Walks statements in order, tracking last writers, readers, effects, barriers."""

    source: str
    ns: Mapping[str, object]
    env: Env
    statements: list[Statement] = field(default_factory=list)
    # Who wrote each name last: `owned` maps each statement to the names it wrote
    # last (exact, disjoint).  `last_writer` indexes it by name, except for large
    # writes (whole alias groups), listed in `bulk` instead of entered name by
    # name; an entry of `last_writer` is only trusted when `owned` agrees.
    last_writer: dict[str, int] = field(default_factory=dict)
    bulk: set[int] = field(default_factory=set)
    readers: dict[str, set[int]] = field(default_factory=dict)
    owned: dict[int, AbstractSet[str]] = field(default_factory=dict)  # last_writer, inverted
    last_effect: int | None = None
    last_opaque: int | None = None
    aliases: Aliases = field(default_factory=Aliases)
    consumable: set[str] = field(default_factory=set)
    bound_in_cell: set[str] = field(default_factory=set)
    # names whose object may run code when its last reference goes (`__del__`, files)
    finalizable: set[str] = field(default_factory=set)
    generator_functions: set[str] = field(default_factory=set)
    resolver: HiddenResolver = field(init=False)
    lines: list[bytes] = field(init=False)  # the source's lines, UTF-8, as AST offsets count

    def __post_init__(self) -> None:
        self.resolver = HiddenResolver(self.ns, self.env)
        self.lines = [line.encode() for line in self.source.splitlines()]
        self.aliases.seed_from_namespace(self.ns, self.env.user_names)
        self.consumable = set()
        for name, value in self.ns.items():
            if type(value) in PLAIN_DATA:
                continue
            kind = type(value)
            if isinstance(value, types.GeneratorType) or (
                hasattr(kind, "__next__") and hasattr(kind, "__iter__")
            ) or isinstance(value, dict) and hasattr(kind, "__missing__"):
                self.consumable.add(name)  # reading it changes it (a defaultdict inserts)
            if may_finalize(value):
                self.finalizable.add(name)
            if is_generator_function(value) or (
                is_notebook_function(value) and returns_iterator(value)
            ):
                self.generator_functions.add(name)

    def add(self, index: int, node: ast.stmt, *, is_last: bool) -> None:
        facts = statement_facts(node, self.env, is_last=is_last)
        lambdas = [f for f in facts.functions if f.name is None]
        hidden = self.resolver.of_names(facts.reads, lambdas)
        consumed = (facts.reads | hidden.reads) & self.consumable
        reads = facts.reads | hidden.reads
        handed = self.resolver.argument_writes(facts.call_sites) if facts.call_sites else _NONE
        changed = facts.mutates | hidden.writes | consumed | handed
        if facts.flows:  # `for row in rows: row.append(0)` changes rows
            changed = frozenset(close_over_flows(changed, facts.flows))
        expanded = self.aliases.expand(changed)
        writes = facts.binds | expanded if facts.binds else expanded
        effect = facts.effect or hidden.effect
        opaque = facts.opaque or hidden.opaque
        if effect:  # an effect may write a file that a later file reader reads
            writes = writes | _FILES_WRITTEN
        notes = _notes(facts.notes, hidden.notes)
        main_thread = self._thread_bound(reads)
        if main_thread:
            notes = (*notes, "uses state tied to the kernel's thread "
                     f"(`{main_thread}`): the cell runs in order on that thread")
        finalizes = self._finalizes(node, facts)
        if finalizes:
            effect = True
            notes = (*notes, f"may run finalizers (`del` or rebinding {', '.join(finalizes)})")
        produces_value = is_last and isinstance(node, ast.Expr)
        fanout = (
            None
            if opaque or not may_fan_out(node)
            else detect_fanout(node, self._fanout_context())
        )
        rebinds = frozenset() if isinstance(node, ast.AugAssign) else facts.binds
        self._hand_over_readers(index, reads, rebinds)
        deps = self._edges(index, reads, writes, effect, opaque, produces_value)
        self._track_bindings(node, facts, handed)
        decorators = getattr(node, "decorator_list", None)
        lineno = min(node.lineno, *(d.lineno for d in decorators)) if decorators else node.lineno
        end_lineno = node.end_lineno or node.lineno
        self.statements.append(
            Statement(
                index=index,
                node=node,
                source=_segment(self.lines, node, lineno),
                lineno=lineno,
                end_lineno=end_lineno,
                reads=reads,
                writes=writes,
                effect=effect,
                opaque=opaque,
                produces_value=produces_value,
                deps=deps,
                fanout=fanout,
                notes=notes,
                main_thread=bool(main_thread),
            )
        )

    def _thread_bound(self, reads: AbstractSet[str]) -> str | None:
        """A name read (or read by a function called) that only works on the kernel's
        thread: asyncio's running loop, signal handlers, an sqlite connection made there,
        thread-locals, logging records naming the thread."""
        qualnames = self.env.qualnames
        for name in reads:
            qualname = qualnames.get(name)
            if qualname is not None:
                if qualname.split(".", 1)[0] in THREAD_BOUND_MODULES:
                    return name
            elif name in self.ns and name not in self.bound_in_cell:
                value = self.ns[name]
                held = [value]
                if is_notebook_function(value):  # a closure over a logger, a connection...
                    held += [c.cell_contents for c in value.__closure__ or ()
                             if has_contents(c)]
                    held += list(value.__defaults__ or ())
                for item in held:
                    module = type(item).__module__ or ""
                    if module.split(".", 1)[0].lstrip("_") in THREAD_BOUND_MODULES:
                        return name
        return None

    def _finalizes(self, node: ast.stmt, facts: NameFacts) -> list[str]:
        """Names whose old object may be finalized by this statement (`del f`, `f = None`)."""
        if isinstance(node, ast.Delete):
            return sorted(
                t.id for t in node.targets if isinstance(t, ast.Name)
            ) or []
        if not facts.binds or isinstance(node, ast.AugAssign):
            return []
        return sorted(facts.binds & self.finalizable)

    def _fanout_context(self) -> FanOutContext:
        return FanOutContext(
            env=self.env,
            resolver=self.resolver,
            bound_before=_BoundBefore(self.ns, self.bound_in_cell),
            consumable=frozenset(self.consumable),
            aliases=self.aliases.expand,
        )

    def _hand_over_readers(
        self, index: int, reads: frozenset[str], rebinds: frozenset[str]
    ) -> None:
        """A rebound name's readers read an object its old aliases still hold.

        `a = c; n = len(a); a = 0; c.append(1)`: the append must wait for
        `len(a)`, so readers of `a` become readers of `c` before `a` moves on.
        """
        for name in rebinds:
            readers = self.readers.get(name, set()) | ({index} if name in reads else set())
            if not readers:
                continue  # nothing to hand over (absent and empty readers are read alike)
            for other in self.aliases.neighbours(name):
                self.readers.setdefault(other, set()).update(readers)

    def _edges(
        self,
        index: int,
        reads: frozenset[str],
        writes: frozenset[str],
        effect: bool,
        opaque: bool,
        produces_value: bool,
    ) -> tuple[Edge, ...]:
        """The statement's edges; then it is recorded as a reader, writer, effect, barrier."""
        reasons: dict[int, set[str]] = {}  # earlier statement -> names / markers behind the edge
        readers = self.readers
        for name in reads:
            before = self._writer_of(name)
            if before is not None:
                reasons.setdefault(before, set()).add(name)
        if writes:
            hits = self._take_over(writes)
            read_since = writes.intersection(readers)
            for name in read_since:
                name_readers = readers[name]
                if len(name_readers) > _FEW_READERS:
                    _add_to_each(reasons, name_readers, name)
                else:
                    for before in name_readers:
                        reasons.setdefault(before, set()).add(name)
        else:
            hits, read_since = {}, _NONE
        markers = []
        if effect:
            markers.append((self.last_effect, EFFECT))
        if produces_value:
            markers.append((self.last_effect, OUTPUT))
        if opaque:
            start = self.last_opaque if self.last_opaque is not None else 0
            markers.extend((before, OPAQUE) for before in range(start, index))
        else:
            markers.append((self.last_opaque, OPAQUE))
        for before, marker in markers:
            if before is not None:
                reasons.setdefault(before, set()).add(marker)
        self._record(index, reads, writes, read_since, effect, opaque)
        reasons.pop(index, None)
        for before, hit in hits.items():
            reason = reasons.get(before)
            # A frozenset either way, so Edge keeps it without a copy.
            reasons[before] = hit if reason is None else hit.union(reason)  # type: ignore[assignment]
        if effect:  # between two effects, `<effect>` says it: `<files>` would repeat it
            for before, reason in reasons.items():
                if EFFECT in reason and FILES in reason:
                    reasons[before] = set(reason) - _FILES_WRITTEN
        return tuple([Edge(b, frozenset(r)) for b, r in sorted(reasons.items())])

    def _take_over(self, writes: frozenset[str]) -> dict[int, frozenset[str]]:
        """Make this statement the last writer of `writes`.

        Returns each earlier writer with the names it loses (the reason of a
        write-after-write edge).  Writes are whole alias groups, so large: they
        are handled a writer at a time with set operations, not a name at a time.
        """
        owned, bulk = self.owned, self.bulk
        if len(owned) * 4 < len(writes):
            writers: Iterable[int] = [
                b for b, theirs in owned.items() if not theirs.isdisjoint(writes)
            ]
        else:
            candidates = set(map(self.last_writer.get, writes))
            candidates.discard(None)
            writers = candidates | bulk
        hits: dict[int, frozenset[str]] = {}
        for before in writers:
            theirs = owned.get(before)
            if theirs is None:
                continue  # a stale last_writer entry
            # All of them (the usual case): their own set, no new one.
            hit = theirs if type(theirs) is frozenset and theirs <= writes else writes & theirs
            if not hit:
                continue
            hits[before] = hit
            if len(hit) == len(theirs):
                del owned[before]
                bulk.discard(before)
            elif type(theirs) is frozenset:
                owned[before] = theirs - hit
            else:
                theirs -= hit
        return hits

    def _record(
        self,
        index: int,
        reads: frozenset[str],
        writes: frozenset[str],
        read_since: AbstractSet[str],
        effect: bool,
        opaque: bool,
    ) -> None:
        """Note the statement as a reader of `reads`, the last writer of `writes`
        (which have no readers since), and the last effect / barrier."""
        readers = self.readers
        for name in reads:
            name_readers = readers.get(name)
            if name_readers is None:
                readers[name] = {index}
            else:
                name_readers.add(index)
        if writes:
            if len(writes) > _BULK_WRITE:
                self.bulk.add(index)
            else:
                self.last_writer.update(zip(writes, repeat(index)))
            self.owned[index] = writes  # shared with the Statement until partly overwritten
        # No readers since this write (absent and empty are read alike).
        for name in read_since | (reads & writes):
            del readers[name]
        if effect:
            self.last_effect = index
        if opaque:
            self.last_opaque = index

    def _writer_of(self, name: str) -> int | None:
        """The statement that wrote `name` last, if any."""
        owned = self.owned
        before = self.last_writer.get(name)
        if before is not None:
            theirs = owned.get(before)
            if theirs is not None and name in theirs:
                return before
        for before in self.bulk:
            if name in owned[before]:
                return before
        return None

    def _track_bindings(self, node: ast.stmt, facts: NameFacts, handed: frozenset[str]) -> None:
        """Update aliases, iterator names, hidden-read bindings and the env for bound names.

        `handed`: names passed to notebook functions that may change them in place."""
        env, aliases, binds = self.env, self.aliases, facts.binds
        sources = frozenset(n for n in facts.reads - env.modules if not is_builtin_name(n, env))
        for name in (facts.mutates | handed) - binds:
            # x.append(y) / x[k] = y / add(x, y): x may now hold y's object.
            aliases.rebind(name, sources, keep_old=True)
        if binds:
            forget = isinstance(node, _FORGETS_ALIASES)
            augmented = isinstance(node, ast.AugAssign)
            iterator = makes_iterator(node) or self._calls_generator(node, facts)
            finalizable = facts.effect or bool(facts.called - self.env.modules)
            functions = facts.functions
            data_objects = self.env.data_objects
            for name in binds:
                self.bound_in_cell.add(name)
                if name in data_objects:
                    assert isinstance(data_objects, dict)
                    del data_objects[name]
                if forget:
                    aliases.forget(name)
                else:
                    aliases.rebind(name, sources, keep_old=augmented)
                bodies = tuple(f for f in functions if f.name in (name, None)) if functions else ()
                self.resolver.bind(name, CellBinding(refers_to=sources - {name}, bodies=bodies))
                if iterator:
                    self.consumable.add(name)
                else:
                    self.consumable.discard(name)
                if finalizable:
                    self.finalizable.add(name)
                else:
                    self.finalizable.discard(name)
                self._track_callable(node, name)
        self.env = rebind_env(env, node, binds)
        self.resolver.env = self.env

    def _track_callable(self, node: ast.stmt, name: str) -> None:
        """Calling a name the cell bound to a computed value cannot be seen through."""
        unknown = self.env.unknown_callables
        assert isinstance(unknown, dict)
        value = getattr(node, "value", None)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Import
                      | ast.ImportFrom) or isinstance(value, ast.Lambda):
            unknown.pop(name, None)
            if returns_iterator_def(node) or isinstance(value, ast.Lambda) and (
                returns_iterator_def(value)
            ):
                self.generator_functions.add(name)
            else:
                self.generator_functions.discard(name)
        else:
            unknown[name] = may_yield_callable(value)
            self.generator_functions.discard(name)

    def _calls_generator(self, node: ast.stmt, facts: NameFacts) -> bool:
        """`g = numbers()` with a generator function, or a call the analysis cannot see
        through (which may return an iterator): reading `g` consumes it."""
        value = getattr(node, "value", None)
        if not isinstance(value, ast.Call):
            return False
        func = value.func
        if isinstance(func, ast.Name):
            if func.id in self.generator_functions or func.id in self.env.unknown_callables:
                return True
            qualname = self.env.qualnames.get(func.id)
            return qualname is not None and qualname.startswith("itertools.")
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            return self.env.qualnames.get(func.value.id) == "itertools"
        return not isinstance(func, ast.Attribute)


@dataclass(frozen=True)
class _BoundBefore:
    """Names bound before a statement: the namespace's or the cell's so far.

    A membership test, not a copy: copying the whole namespace (or the cell's
    names) for every statement made long cells quadratic.  Only used during the
    `detect_fanout` call it is made for, while `cell` does not change.
    """

    ns: Mapping[str, object]
    cell: AbstractSet[str]

    def __contains__(self, name: object) -> bool:
        return name in self.cell or name in self.ns


def _add_to_each(table: dict[K, set[V]], keys: Iterable[K], item: V) -> None:
    """``table[key].add(item)`` for every key (new keys get a set), looping in C.

    Alias groups and readers grow with the cell, so these loops are the
    analysis' inner loops.
    """
    keys = keys if isinstance(keys, set | frozenset) else set(keys)
    for key in keys - table.keys():
        table[key] = set()
    deque(map(set.add, map(table.__getitem__, keys), repeat(item)), maxlen=0)


def _notes(own: tuple[str, ...], hidden: AbstractSet[str]) -> tuple[str, ...]:
    """The statement's reasons in words; a generic "cannot see through" note gives way
    to the specific one about the same name (`touches `tag`, a closure that ...`)."""
    specific = {note.split("`")[1] for note in hidden if note.startswith("touches `")}
    kept = [
        note for note in own
        if not (note.startswith("calls `") and note.split("`")[1] in specific)
    ]
    return (*kept, *sorted(hidden))


def _segment(lines: list[bytes], node: ast.stmt, lineno: int) -> str:
    """The statement's source from ``lineno`` (its first decorator, if any) to its end.

    Works on lines split once per cell: ``ast.get_source_segment`` splits the
    whole source on every call, which made a 500-line cell take a second.
    """
    if node.end_lineno is None or node.end_col_offset is None:
        return ""
    if lineno == node.lineno == node.end_lineno and 0 < lineno <= len(lines):
        return lines[lineno - 1][node.col_offset : node.end_col_offset].decode(errors="replace")
    chunk = lines[lineno - 1 : node.end_lineno]
    if not chunk:
        return ""
    chunk[-1] = chunk[-1][: node.end_col_offset]
    if lineno == node.lineno:
        chunk[0] = chunk[0][node.col_offset :]
    return "\n".join(part.decode(errors="replace") for part in chunk)


__all__ = ["OPAQUE", "EFFECT", "OUTPUT", "CellPlan", "Edge", "Statement", "analyze_cell"]
