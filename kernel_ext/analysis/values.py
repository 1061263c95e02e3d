"""What a name bound in the cell may hold: a one-shot iterator, a callable with state."""

from __future__ import annotations

import ast
import types

from kernel_ext.analysis.params import function_node
from kernel_ext.analysis.state import returns_iterator_code, returns_iterator_def

# Calls whose result is a one-shot iterator: reading such a name consumes it.
ITERATOR_MAKERS = frozenset({"iter", "map", "filter", "zip", "enumerate", "reversed", "open"})


def returns_iterator(func: types.FunctionType) -> bool:
    """From its source when IPython still has it, else from its bytecode (coarser)."""
    node = function_node(func)
    if node is not None:
        return returns_iterator_def(node)
    return returns_iterator_code(func.__code__)


def has_contents(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - raises for a cell not yet filled
    except ValueError:
        return False
    return True


def may_yield_callable(value: ast.expr | None) -> bool:
    """Whether an expression may give a callable with state of its own: an attribute
    (`counter.__next__`), an item (`handlers[k]`), a name, or a call that is not a
    plain data constructor (`getattr(o, m)`, `partial(f)`, `make_counter()`)."""
    if value is None or isinstance(value, ast.Constant | ast.List | ast.Tuple | ast.Dict
                                   | ast.Set | ast.ListComp | ast.SetComp | ast.DictComp
                                   | ast.BinOp | ast.UnaryOp | ast.Compare | ast.BoolOp
                                   | ast.JoinedStr):
        return False
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id not in DATA_BUILTINS
    return True


DATA_BUILTINS = frozenset(
    {"len", "sum", "min", "max", "sorted", "list", "dict", "set", "tuple", "str", "int",
     "float", "abs", "round", "range", "bool", "repr", "frozenset", "bytes", "divmod", "pow",
     "any", "all", "hash", "ord", "chr", "format", "isinstance", "issubclass", "type", "id"}
)


def makes_iterator(node: ast.stmt) -> bool:
    if not isinstance(node, ast.Assign):
        return False
    value = node.value
    if isinstance(value, ast.GeneratorExp):
        return True
    return (
        isinstance(value, ast.Call)
        and isinstance(value.func, ast.Name)
        and value.func.id in ITERATOR_MAKERS
    )
