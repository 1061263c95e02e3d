"""Automatic sync: a cell that needs what a background job is making waits for exactly that.

Before a cell runs, :class:`SyncTransformer` (one of the shell's
``ast_transformers``) works out what the cell reads and writes with the same
analysis as ``%%parallel`` and, while any background job is pending or has
failed, puts one call in front of the cell::

    __import__('kernel_ext.background.sync', fromlist=['_']).sync_point(reads, writes, opaque)

so that the waiting, the interrupt of a waiting cell and the ``NameError`` for
a name a failed job did not produce all happen *inside* the cell: the cell's
reply is the error, as if the cell itself had raised it. (A ``pre_run_cell``
hook cannot do that: IPython prints an exception raised by an event callback,
``KeyboardInterrupt`` included, and runs the cell anyway.) A transformer that
raises is dropped by IPython, so this one never raises: when the analysis
fails the cell waits for every pending job.

What a cell needs:

- reads: names some statement reads before the cell itself binds them;
- writes: every name the cell binds, deletes or changes in place;
- opaque: the analysis cannot see through it (``exec``, ``globals()``, star
  imports, most magics such as ``%reset``): it waits for every pending job.

``%%parallel`` cells are analysed by their body; ``%%parallel --background``
cells are not held up here at all (their job starts once the statements it
conflicts with have ended; see :mod:`kernel_ext.background.registry`).
"""

from __future__ import annotations

import ast
import shlex
import sys
import time
from dataclasses import dataclass
from typing import Any

from kernel_ext.analysis import analyze_cell
from kernel_ext.cell.awaiting import awaited_magic_call

# Line magics that touch no user names (or that manage jobs and must not wait for them).
_NAMELESS_LINE_MAGICS = frozenset(
    {
        "jobs",
        "parallel",
        "config",
        "load_ext",
        "reload_ext",
        "lsmagic",
        "matplotlib",
        "pwd",
        "who",
        "whos",
        "who_ls",
        "env",
        "pip",
        "conda",
        "history",
        "time",
        "timeit",
    }
)
# Cell magics whose body is Python, analysed as such; other cell magics bind no names.
_PYTHON_CELL_MAGICS = frozenset({"parallel", "time", "timeit", "capture", "prun"})
_NON_PYTHON_CELL_MAGICS = frozenset(
    {
        "bash",
        "sh",
        "script",
        "html",
        "HTML",
        "markdown",
        "javascript",
        "js",
        "latex",
        "svg",
        "writefile",
        "file",
        "perl",
        "ruby",
    }
)
_BACKGROUND_FLAGS = frozenset({"--background", "--bg"})


@dataclass(frozen=True)
class CellNeeds:
    reads: frozenset[str]
    writes: frozenset[str]
    opaque: bool

    @property
    def nothing(self) -> bool:
        return not (self.reads or self.writes or self.opaque)


NOTHING = CellNeeds(frozenset(), frozenset(), False)
EVERYTHING = CellNeeds(frozenset(), frozenset(), True)


class SyncTransformer(ast.NodeTransformer):
    """Prepends the sync call to every cell while background jobs are pending (never raises)."""

    def __init__(self, registry: Any) -> None:
        super().__init__()
        self.registry = registry

    def visit(self, node: ast.AST) -> ast.AST:
        try:
            if not isinstance(node, ast.Module) or not node.body or not self.registry.active():
                return node
            node = _undo_automagic(node, self.registry)
            needs = cell_needs(node, self.registry.shell)
            if needs.nothing:
                return node
            if not self.registry.unsettled() and not (
                needs.reads & self.registry.failures.by_name.keys()
            ):
                return node  # only failures are recorded, and none concerns this cell
            at = _after_future_imports(node.body)
            call = _sync_call(needs, node.body[at])
            node.body.insert(at, call)
            return node
        except Exception:
            return node


def _undo_automagic(tree: ast.Module, registry: Any) -> ast.Module:
    """``alias['k'] = 2`` as a one-line cell, while a job is still making ``alias``.

    IPython turns a one-line cell that starts with a magic's name into that
    magic (automagic) unless the name is bound *now*; once the job has made the
    name, the plain cell means the variable. Undo the rewrite when the name is
    one a pending job writes and the cell did not say ``%`` itself.
    """
    magic = _magic_call(tree)
    if magic is None or magic[0] != "line":
        return tree
    _, name, rest, _ = magic
    shell = registry.shell
    if name in shell.user_ns or not any(
        job.conflicts(frozenset({name}), frozenset(), False).statements
        for job in registry.unsettled()
    ):
        return tree
    parent = getattr(getattr(shell, "kernel", None), "get_parent", lambda: {})() or {}
    raw = str(parent.get("content", {}).get("code", ""))
    if not raw.lstrip().startswith(name):
        return tree  # an explicit %magic
    try:
        return ast.parse(f"{name} {rest}")
    except SyntaxError:
        return tree


def cell_needs(tree: ast.Module, shell: Any) -> CellNeeds:
    magic = _magic_call(tree)
    if magic is not None:
        kind, name, line, body = magic
        if kind == "line":
            if name in ("time", "timeit"):
                return _needs_of_source(line, shell)
            return NOTHING if name in _NAMELESS_LINE_MAGICS else EVERYTHING
        if name in _NON_PYTHON_CELL_MAGICS:
            return NOTHING
        if name not in _PYTHON_CELL_MAGICS:
            return EVERYTHING
        if name == "parallel" and (_BACKGROUND_FLAGS & set(_split(line)) or "--explain" in line):
            return NOTHING
        needs = _needs_of_source(shell.transform_cell(body), shell)
        if name == "capture" and line.split():
            name_bound = line.split()[-1]
            if name_bound.isidentifier():
                needs = CellNeeds(needs.reads, needs.writes | {name_bound}, needs.opaque)
        return needs
    if len(tree.body) > 1 and all(map(_nameless_line_magic, tree.body)):
        return NOTHING  # `%parallel cancel 2` then `%parallel wait 2`: never wait for jobs
    return _needs_of_source(ast.unparse(tree), shell)


def _nameless_line_magic(stmt: ast.stmt) -> bool:
    magic = _magic_call(ast.Module(body=[stmt], type_ignores=[]))
    return (magic is not None and magic[0] == "line" and magic[1] in _NAMELESS_LINE_MAGICS
            and magic[1] not in ("time", "timeit"))  # those run code of the cell's


def _needs_of_source(source: str, shell: Any) -> CellNeeds:
    for _ in range(3):  # background threads may change the namespace while it is read
        try:
            plan = analyze_cell(source, shell.user_ns)
            break
        except RuntimeError:
            continue
    else:
        return EVERYTHING
    reads: set[str] = set()
    writes: set[str] = set()
    opaque = False
    for stmt in plan.statements:
        reads |= stmt.reads - writes
        writes |= stmt.writes
        opaque = opaque or stmt.opaque
    return CellNeeds(frozenset(reads), frozenset(writes), opaque)


def _magic_call(tree: ast.Module) -> tuple[str, str, str, str] | None:
    """('line'|'cell', name, line, body) when the cell is one magic, as IPython rewrites it."""
    awaited = awaited_magic_call(tree)
    if awaited is not None:
        return "cell", "parallel", awaited[0], awaited[1]
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr | ast.Assign):
        return None
    call = tree.body[0].value
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
        return None
    owner = call.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    args = [a.value if isinstance(a, ast.Constant) else None for a in call.args]
    if not all(isinstance(a, str) for a in args):
        return None
    if call.func.attr == "run_line_magic" and len(args) >= 2 and isinstance(tree.body[0], ast.Expr):
        return "line", args[0], args[1], ""
    if call.func.attr == "run_cell_magic" and len(args) == 3 and isinstance(tree.body[0], ast.Expr):
        return "cell", args[0], args[1], args[2]
    return None


def _split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def _after_future_imports(body: list[ast.stmt]) -> int:
    at = 0
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        at = 1  # a docstring
    while (
        at < len(body) and isinstance(body[at], ast.ImportFrom) and body[at].module == "__future__"
    ):
        at += 1
    return at if at < len(body) else 0


def _sync_call(needs: CellNeeds, where: ast.stmt) -> ast.stmt:
    def names(values: frozenset[str]) -> ast.Tuple:
        return ast.Tuple([ast.Constant(n) for n in sorted(values)], ast.Load())

    module = ast.Call(
        ast.Name("__import__", ast.Load()),
        [ast.Constant(__name__)],
        [ast.keyword("fromlist", ast.List([ast.Constant("sync_point")], ast.Load()))],
    )
    call = ast.Call(
        ast.Attribute(module, "sync_point", ast.Load()),
        [names(needs.reads), names(needs.writes), ast.Constant(needs.opaque)],
        [],
    )
    stmt = ast.Expr(call)
    ast.copy_location(stmt, where)
    ast.fix_missing_locations(stmt)
    for sub in ast.walk(stmt):  # one line: the cell's first
        sub.lineno, sub.end_lineno = where.lineno, where.lineno
    return stmt


def sync_point(reads: tuple[str, ...], writes: tuple[str, ...], opaque: bool) -> None:
    """Called first thing in a cell: wait for the pending statements it conflicts with.

    Prints one line saying what it waits for. Raises the clear ``NameError``
    when the cell reads a name that a failed or cancelled job did not
    produce. An interrupt stops the wait (and the cell); the jobs go on.
    """
    __tracebackhide__ = True  # noqa: F841 - IPython hides this frame in tracebacks
    from kernel_ext.background import registry_of

    registry = registry_of(None)
    if registry is None:
        return
    wanted, written = frozenset(reads), frozenset(writes)
    waits = []
    for job in sorted(registry.unsettled(), key=lambda j: j.number):
        conflict = job.conflicts(wanted, written, opaque)
        if conflict.statements:
            waits.append((job, conflict))
    if waits:
        parts = []
        for job, conflict in waits:
            what = ", ".join(sorted(conflict.names)) if conflict.names else "all its statements"
            parts.append(f"job {job.number}: {what}")
        print(f"waiting for {'; '.join(parts)}", flush=True)
    for job, conflict in waits:
        while not job.statements_final(conflict.statements):
            time.sleep(0.01)
    for job in registry.unsettled():
        message = job.not_produced(wanted)
        if message is not None:
            name = message.split("'")[1]
            raise NameError(message, name=name)
    if waits and opaque:
        for job, _ in waits:  # everything: let the jobs also settle their names
            job.wait()
    user_ns = registry.shell.user_ns
    with registry.failures.lock:
        for name in sorted(wanted):
            message = registry.failures.by_name.get(name)
            if message is not None and name not in user_ns:
                raise NameError(message, name=name)
        for name in written:
            registry.failures.by_name.pop(name, None)
    sys.stdout.flush()
