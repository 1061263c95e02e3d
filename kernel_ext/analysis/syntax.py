"""Raise what compiling a cell raises, compiling only the statements that could fail.

``ast.parse`` accepts some cells that compiling refuses (``return`` or ``break``
outside their blocks, ``global x`` after ``x = 1``, a late ``__future__``
import, ``f(a=1, a=2)``, ``a, *b, *c = x``...), and compiling warns about some
it accepts (``x is 1``, ``(1)()``).  The plain cell would be compiled, so the
analysis must raise (and warn) the same.

Compiling a parsed tree costs most of what parsing it cost, yet most
statements of a long cell are ones no compiler check looks at: assignments,
calls, arithmetic, comprehensions, loops.  Those are recognised node by node
against a list of such constructs (`_PLAIN`, with a few conditions on calls,
comparisons, subscripts and starred expressions) and are not compiled; the
other statements are compiled together, as one module, with the same flags,
file name and positions.  The compiler finds an error within one statement,
except for ``global`` declarations (at module level they are checked against
the statements before them) and ``__future__`` imports (they must come first):
a cell with either is compiled whole.

The list was checked against CPython 3.11 to 3.13 (by comparing, on random
cells, what this raises and warns with what compiling the whole tree does);
on later versions every cell is compiled whole until it is checked there too.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from enum import Enum
from typing import Any

_CHECKED_UP_TO = (3, 13)  # the newest Python the list of plain constructs was checked on


class _Need(Enum):
    """What a statement needs so that the cell's compile errors are found."""

    NOTHING = "nothing"  # no compiler check looks at anything in it
    ITSELF = "itself"  # compiling (on its own is enough)
    WHOLE_CELL = "whole cell"  # compiling with the whole cell: checked against the others


def check_compiles(source: str, tree: ast.Module, filename: str, flags: int) -> None:
    """Raise the SyntaxError compiling `source` (parsed as `tree`) raises, if any.

    On an error the source itself is compiled, so the exception is exactly the
    one compiling the plain cell raises.
    """
    body = _to_compile(source, tree)
    if not body:
        return
    module = tree if len(body) == len(tree.body) else ast.Module(body=body, type_ignores=[])
    try:
        compile(module, filename, "exec", flags=flags, dont_inherit=True)
    except SyntaxError:
        compile(source, filename, "exec", flags=flags, dont_inherit=True)
        raise


def _to_compile(source: str, tree: ast.Module) -> list[ast.stmt]:
    """The statements to compile: those with a construct not in `_PLAIN`, or all of them."""
    if sys.version_info[:2] > _CHECKED_UP_TO or "__debug__" in source:
        return tree.body  # (binding __debug__ is refused wherever the name is)
    chosen = []
    for stmt in tree.body:
        need = _need(stmt)
        if need is _Need.WHOLE_CELL:
            return tree.body
        if need is _Need.ITSELF:
            chosen.append(stmt)
    return chosen


def _need(stmt: ast.stmt) -> _Need:
    """What `stmt` needs.  All its nodes are walked (not nested scopes' bodies), to find
    a `global` declaration at module level even under a construct not in `_PLAIN`."""
    need = _Need.NOTHING
    seen = 0
    todo: list[Any] = [stmt]
    pop, push, extend = todo.pop, todo.append, todo.extend
    plain, fields_of, AST = _PLAIN, _FIELDS, ast.AST  # noqa: N806 - locals, for speed
    while todo:
        node = pop()
        kind = type(node)
        condition = plain.get(kind, _ANYTHING)
        if condition is _ANYTHING:  # not in the list: compiled (if it is a node at all)
            if kind is ast.Global or (kind is ast.ImportFrom and node.module == "__future__"):
                return _Need.WHOLE_CELL
            if not isinstance(node, AST):
                continue  # None (`{**d}` keys) or a name (`nonlocal a, b`) in a list field
            need = _Need.ITSELF
            if kind in _SCOPES:
                continue  # a scope of its own: nothing in it is checked against the cell
        elif condition is not None and not condition(node):
            need = _Need.ITSELF
        seen += 1
        fields = fields_of.get(kind)
        if fields is None:
            fields = fields_of[kind] = tuple(f for f in kind._fields if f not in _LEAF_FIELDS)
        for name in fields:
            value = getattr(node, name, None)
            if type(value) is list:
                extend(value)
            elif isinstance(value, AST):
                push(value)
    if need is _Need.NOTHING and seen > _SMALL and _nested_too_deep(stmt):
        need = _Need.ITSELF
    return need


def _nested_too_deep(stmt: ast.stmt) -> bool:
    """Nested deep enough to meet the compiler's own limits: more than 20 loops and
    with items in one another are refused, very deep expressions exhaust its recursion limit."""
    todo: list[tuple[Any, int, int]] = [(stmt, 1, 0)]
    while todo:
        node, depth, blocks = todo.pop()
        if not isinstance(node, ast.AST):
            continue
        kind = type(node)
        if kind is ast.For or kind is ast.While:
            blocks += 1
        elif kind is ast.With:
            blocks += len(node.items)  # each item is a block of its own
        if depth > _MAX_DEPTH or blocks > _MAX_BLOCKS:
            return True
        for name in node._fields:
            value = getattr(node, name, None)
            for child in value if type(value) is list else (value,):
                todo.append((child, depth + 1, blocks))
    return False


# Constructs no compiler check looks at (given the conditions below).  Function
# and class bodies, lambdas, `yield`, `await`, `return`, `break`, `continue`,
# `try`, `match`, `assert`, `from` imports, annotations, the walrus, `global`,
# `nonlocal` and anything newer than this list are not here: statements with
# them are compiled.
_PLAIN_NODES = (
    ast.Expr, ast.Assign, ast.AugAssign, ast.Pass, ast.Delete, ast.Import,
    ast.If, ast.For, ast.While, ast.With, ast.Raise,
    ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.IfExp, ast.Dict, ast.Set, ast.ListComp,
    ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare, ast.Call, ast.FormattedValue,
    ast.JoinedStr, ast.Constant, ast.Attribute, ast.Subscript, ast.Starred, ast.Name,
    ast.List, ast.Tuple, ast.Slice,
    ast.comprehension, ast.keyword, ast.alias, ast.withitem,
)
_ANYTHING = object()  # what `_PLAIN` gives for a construct not in it
_SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda})
_SMALL = 40  # at most this many nodes are never nested too deep (a block takes 2 or more)
_MAX_BLOCKS = 10  # loops and with items in one another (more than 20 are refused)
_MAX_DEPTH = 100  # nodes in one another (about 1000 exhaust the recursion limit)
# Fields that never hold nodes: contexts, operators, identifiers, numbers, constants.
_LEAF_FIELDS = frozenset(
    {"ctx", "op", "ops", "id", "attr", "arg", "asname", "module", "level", "type_comment",
     "conversion", "is_async", "simple", "kind", "tag"}
)
_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}

# A literal called, subscripted or compared with `is` gets a SyntaxWarning
# ("perhaps you missed a comma?"); constant folding turns some expressions into
# literals first, so only these are known not to be literals.
_NOT_LITERALS = frozenset({ast.Name, ast.Attribute, ast.Call, ast.Subscript})
_IDENTITY = frozenset({ast.Is, ast.IsNot})


def _call_is_plain(node: ast.Call) -> bool:
    """Not a literal called, and no keyword given twice (refused)."""
    if type(node.func) not in _NOT_LITERALS:
        return False
    if len(node.keywords) < 2:
        return True
    names = [k.arg for k in node.keywords if k.arg is not None]
    return len(names) == len(set(names))


def _subscript_is_plain(node: ast.Subscript) -> bool:
    return type(node.value) in _NOT_LITERALS


def _compare_is_plain(node: ast.Compare) -> bool:
    """`is` / `is not` only between names, attributes, calls, subscripts and singletons."""
    if _IDENTITY.isdisjoint(map(type, node.ops)):
        return True
    return all(
        type(e) in _NOT_LITERALS
        or (type(e) is ast.Constant and any(e.value is v for v in (None, True, False, ...)))
        for e in (node.left, *node.comparators)
    )


def _starred_is_plain(node: ast.Starred) -> bool:
    """Starred arguments and displays: starred targets (`a, *b = x`) are compiled."""
    return type(node.ctx) is ast.Load


def _comprehension_is_plain(node: ast.comprehension) -> bool:
    return not node.is_async


# Each construct no compiler check looks at, with the condition it must meet, if any.
_PLAIN: dict[type, Callable[[Any], bool] | None] = dict.fromkeys(_PLAIN_NODES)
_PLAIN.update(
    {
        ast.Call: _call_is_plain,
        ast.Subscript: _subscript_is_plain,
        ast.Compare: _compare_is_plain,
        ast.Starred: _starred_is_plain,
        ast.comprehension: _comprehension_is_plain,
    }
)
