"""State that lives inside functions, classes and objects, where names cannot show it.

`def tag(x, seen=set())`, a closure with a `nonlocal` counter, a cached function,
a bound method stored in a name, a class whose methods change class attributes,
a property whose getter changes its object: calling (or merely touching) such a
thing changes state that no name of the cell mentions.  The plan charges every
statement that reaches one with a write of the pseudo-name below (so two such
statements keep their order) and of the names it can see the state under.
"""

from __future__ import annotations

import ast
import dis
import functools
import inspect
import io
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kernel_ext.analysis.effects import (
    TRUSTED_MODULES,
    CallKind,
    classify_qualname,
    has_attribute_hooks,
    is_immutable,
    qualname_of,
)

FUNCTION_STATE = "<function state>"  # state kept by notebook functions and their wrappers
_MAX_SCAN = 1000  # elements of a container looked at for the callables it holds
_HARMLESS = (types.FunctionType, types.BuiltinFunctionType, types.ModuleType, type,
             types.CodeType, property, staticmethod, classmethod)


@dataclass(frozen=True)
class ValueState:
    """What touching a namespace value may do beyond what its name shows."""

    reason: str | None  # why it keeps state of its own (None: it does not)
    functions: tuple[types.FunctionType, ...]  # notebook functions it calls or holds
    reaches: frozenset[int]  # ids of other objects it may change (defaults, owners, cells)
    access_runs_code: bool = False  # reading an attribute runs notebook code (properties)


_NONE = ValueState(None, (), frozenset())


def is_notebook_function(value: object) -> bool:
    return isinstance(value, types.FunctionType) and value.__module__ == "__main__"


def _harmless(value: object) -> bool:
    if isinstance(value, types.BuiltinFunctionType):  # `seen.add` is bound to its set
        owner = getattr(value, "__self__", None)
        return owner is None or isinstance(owner, types.ModuleType)
    return is_immutable(value) or isinstance(value, _HARMLESS)


def value_state(value: object) -> ValueState:
    """The hidden state of a namespace value that a statement calls, passes or reads."""
    if isinstance(value, types.FunctionType):
        if is_notebook_function(value):
            return _function_state(value)
        return _module_function_state(value)
    if isinstance(value, types.MethodType):
        inner = value_state(value.__func__)
        owner = value.__self__
        return ValueState(inner.reason or f"a method bound to a {type(owner).__name__}",
                          inner.functions, inner.reaches | {id(owner)})
    if isinstance(value, type):
        reason = class_state_reason(value)
        return ValueState(reason, tuple(notebook_methods(value)), frozenset())
    if isinstance(value, list | tuple | dict | set | frozenset) and not hasattr(
        type(value), "__missing__"
    ):
        return _container_state(value)
    if _harmless(value):
        return _NONE
    cls = type(value)
    if is_notebook_class(cls):
        reason = class_state_reason(cls)
        return ValueState(reason, tuple(notebook_methods(cls)), frozenset(),
                          access_runs_code=runs_code_on_access(cls))
    if has_attribute_hooks(cls):  # probing would run its hooks: assume it changes on use
        return ValueState(f"a {cls.__name__} object that runs code on attribute access",
                          (), frozenset(), access_runs_code=True)
    if isinstance(value, dict) and hasattr(cls, "__missing__"):
        return ValueState(None, (), frozenset(), access_runs_code=True)  # reads insert keys
    wrapped = getattr(value, "__wrapped__", None)
    owner = getattr(value, "__self__", None)
    if callable(value) and (wrapped is not None or qualname_of(value) is None
                            or owner is not None and not isinstance(owner, types.ModuleType)):
        functions: tuple[types.FunctionType, ...] = ()
        if isinstance(wrapped, types.FunctionType) and is_notebook_function(wrapped):
            functions = (wrapped, *_function_state(wrapped).functions)
        func = getattr(value, "func", None)  # functools.partial
        if is_notebook_function(func):
            functions = (*functions, func)  # type: ignore[arg-type]
        reaches = set() if owner is None or isinstance(owner, types.ModuleType) else {id(owner)}
        if isinstance(value, functools.partial):  # partial(collect, errors) reaches errors
            held = [*value.args, *value.keywords.values()]
            reaches |= {id(v) for v in held if not _harmless(v)}
            target = getattr(value.func, "__self__", None)  # partial(cart.add, 'tea')
            if target is not None and not isinstance(target, types.ModuleType):
                reaches.add(id(target))
            if isinstance(value.func, types.MethodType) and is_notebook_function(
                value.func.__func__
            ):
                functions = (*functions, value.func.__func__)
        return ValueState(_callable_description(value), functions, frozenset(reaches))
    return _NONE


def _module_function_state(func: types.FunctionType) -> ValueState:
    """A function of a module the analysis does not know (`from helpers import load`)
    may change any mutable global of its module, which names of the notebook may hold
    (`from helpers import CALLS`)."""
    module = func.__module__ or ""
    if module.split(".", 1)[0] in TRUSTED_MODULES:
        return _NONE
    reaches = set()
    for i, held in enumerate(func.__globals__.values()):
        if i >= _MAX_SCAN:
            break
        if not _harmless(held):
            reaches.add(id(held))
    return ValueState(None, (), frozenset(reaches))


def _callable_description(value: object) -> str:
    if hasattr(value, "cache_info"):
        return "a cached function (its cache is state)"
    if getattr(value, "__self__", None) is not None:
        return f"a method bound to a {type(value.__self__).__name__}"  # type: ignore[attr-defined]
    return f"a callable {type(value).__name__} object"


def _function_state(func: types.FunctionType) -> ValueState:
    """Closure cells, defaults and nonlocal writes of a notebook function."""
    reasons: list[str] = []
    functions: list[types.FunctionType] = []
    reaches: set[int] = set()
    if _writes_nonlocal(func.__code__) or _changes_enclosed(func.__code__):
        reasons.append("a closure that changes its own state")
    for cell in func.__closure__ or ():
        try:
            content = cell.cell_contents
        except ValueError:
            continue
        if is_notebook_function(content):
            functions.append(content)
        elif not is_immutable(content) and (
            not isinstance(content, _HARMLESS) or isinstance(content, types.BuiltinFunctionType)
        ):
            reasons.append("a closure over a mutable value")
            reaches.add(id(content))
        elif is_immutable(content) and id(cell) in _cells_rebound_by_others(func):
            # `inc, get = make()`: inc rebinds the count that get reads
            reasons.append("a closure over a value another closure changes")
    attributes = sorted(set(vars(func)) - {"__wrapped__"})
    if attributes:  # `wrapper.calls += 1`
        reasons.append(f"a function with attributes of its own (`{attributes[0]}`)")
    defaults = [*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()]
    for default in defaults:
        if is_notebook_function(default):
            functions.append(default)
        elif callable(default) and not isinstance(default, type):
            # `def f(x, draw=random.random)`: the default is called with hidden state
            qualname = qualname_of(default)
            if qualname is None or classify_qualname(qualname) is not CallKind.PURE:
                reasons.append(f"a function whose default `{qualname or default!r}` "
                               "has state of its own")
                reaches.add(id(default))
                owner = getattr(default, "__self__", None)  # `add=rows.append` reaches rows
                if owner is not None and not isinstance(owner, types.ModuleType):
                    reaches.add(id(owner))
        elif not _harmless(default):
            reasons.append("a function with a mutable default argument")
            reaches.add(id(default))
    wrapped = getattr(func, "__wrapped__", None)
    if is_notebook_function(wrapped):
        functions.append(wrapped)
    return ValueState(reasons[0] if reasons else None, tuple(functions), frozenset(reaches))


def _cells_rebound_by_others(func: types.FunctionType) -> set[int]:
    """Closure cells that some notebook function of the namespace rebinds (`nonlocal`)."""
    found: set[int] = set()
    for other in list(func.__globals__.values())[:5000]:
        if other is func or not is_notebook_function(other) or not other.__closure__:
            continue
        written = _nonlocal_names(other.__code__)
        for name, cell in zip(other.__code__.co_freevars, other.__closure__, strict=False):
            if name in written:
                found.add(id(cell))
    return found


# Bytecode summaries below are kept per code object: the namespace's functions are
# looked at again for every cell, and disassembling them each time would add up.
@functools.lru_cache(maxsize=4096)
def _nonlocal_names(code: types.CodeType) -> frozenset[str]:
    """Enclosed variables this code (not its nested code) rebinds with `nonlocal`."""
    return frozenset(i.argval for i in dis.get_instructions(code)
                     if i.opname in ("STORE_DEREF", "DELETE_DEREF")
                     and i.argval in code.co_freevars)


@functools.lru_cache(maxsize=4096)
def _writes_nonlocal(code: types.CodeType) -> bool:
    if _nonlocal_names(code):
        return True
    return any(_writes_nonlocal(c) for c in code.co_consts if isinstance(c, types.CodeType))


@functools.lru_cache(maxsize=4096)
def _changes_enclosed(code: types.CodeType) -> bool:
    """A line that loads an enclosed variable and stores into an attribute or item
    (`wrapper.calls += 1`, `cache[key] = v` with `cache` from the enclosing function)."""
    lines: dict[int | None, set[str]] = {}
    for instr in dis.get_instructions(code):
        line = instr.positions.lineno if instr.positions else None
        ops = lines.setdefault(line, set())
        if instr.opname in ("LOAD_DEREF", "LOAD_CLOSURE"):
            ops.add("deref")
        elif instr.opname in ("STORE_ATTR", "STORE_SUBSCR", "DELETE_ATTR", "DELETE_SUBSCR"):
            ops.add("store")
    if any({"deref", "store"} <= ops for ops in lines.values()):
        return True
    return any(_changes_enclosed(c) for c in code.co_consts if isinstance(c, types.CodeType))


def _container_state(value: Iterable[object] | Mapping[object, object]) -> ValueState:
    """Callables held in a list or dict (`handlers['a'](1)`): what they do is charged."""
    items = value.values() if isinstance(value, dict) else value
    functions: list[types.FunctionType] = []
    reaches: set[int] = set()
    reason = None
    for i, item in enumerate(items):
        if i >= _MAX_SCAN:
            reason = reason or "a large container that may hold callables"
            break
        if _harmless(item) and not is_notebook_function(item):
            continue
        if callable(item) or isinstance(item, list | dict):
            inner = value_state(item)
            functions.extend(inner.functions)
            reaches |= inner.reaches  # `{'add': cart.add}` reaches cart
            if is_notebook_function(item):
                functions.append(item)  # type: ignore[arg-type]
            reason = reason or (inner.reason and f"a container holding {inner.reason}")
    return ValueState(reason, tuple(functions), frozenset(reaches))


def is_notebook_class(cls: type) -> bool:
    return any(k.__module__ == "__main__" for k in cls.__mro__ if k is not object)


def notebook_methods(cls: type) -> list[types.FunctionType]:
    """Notebook functions of the notebook classes in `cls`'s MRO."""
    return class_functions(cls, is_notebook_function, notebook_classes_only=True)


def class_functions(
    cls: type, is_wanted: Callable[[object], bool], *, notebook_classes_only: bool = False
) -> list[types.FunctionType]:
    """Methods, static and class methods, property accessors and cached properties."""
    found = []
    for klass in cls.__mro__:
        if notebook_classes_only and klass.__module__ != "__main__":
            continue
        for attr in vars(klass).values():
            for func in (attr, getattr(attr, "__func__", None), getattr(attr, "fget", None),
                         getattr(attr, "fset", None), getattr(attr, "func", None)):
                if func is not None and is_wanted(func):
                    found.append(func)  # type: ignore[arg-type]
    return found


def runs_code_on_access(cls: type) -> bool:
    """Reading an attribute of an instance may run notebook code that changes it."""
    for klass in cls.__mro__:
        if klass.__module__ != "__main__":
            continue
        if any(hook in vars(klass) for hook in _ACCESS_HOOKS):
            return True
        for name, attr in vars(klass).items():
            if name.startswith("__") or isinstance(
                attr, types.FunctionType | staticmethod | classmethod
            ):
                continue
            if hasattr(type(attr), "__get__"):
                return True  # a property or another descriptor
    return False


# Methods that run when an instance is merely read (`obj.x`, `obj[k]`, `len(obj)`, `k in obj`).
_ACCESS_HOOKS = ("__getattr__", "__getattribute__", "__getitem__", "__missing__", "__len__",
                 "__contains__", "__iter__", "__bool__", "__eq__", "__hash__")


def class_state_reason(cls: type) -> str | None:
    """Why a notebook class keeps state shared by all its instances, or None."""
    for klass in cls.__mro__:
        if klass.__module__ != "__main__":
            continue
        for name, attr in vars(klass).items():
            if name.startswith("__") and name.endswith("__"):
                continue
            if not _harmless(attr) and not hasattr(type(attr), "__get__"):
                return f"class `{klass.__name__}` has a mutable class attribute `{name}`"
        for func in notebook_methods(klass):
            if _stores_outside_self(func.__code__):
                return f"class `{klass.__name__}` changes class state in `{func.__name__}`"
    return None


@functools.lru_cache(maxsize=4096)
def _stores_outside_self(code: types.CodeType) -> bool:
    """An attribute store whose object is not the method's first parameter loaded plainly."""
    first = code.co_varnames[0] if code.co_argcount else None
    previous: dis.Instruction | None = None
    for instr in dis.get_instructions(code):
        plain_self = previous is not None and previous.opname in (
            "LOAD_FAST", "LOAD_FAST_CHECK") and previous.argval == first
        if instr.opname in ("STORE_ATTR", "DELETE_ATTR") and not plain_self:
            return True
        if instr.opname == "STORE_GLOBAL":
            return True
        previous = instr
    return any(_stores_outside_self(c) for c in code.co_consts if isinstance(c, types.CodeType))


def may_finalize(value: object) -> bool:
    """Dropping the last reference runs code: `__del__`, closing a file, a generator's finally."""
    cls = type(value)
    return (
        getattr(cls, "__del__", None) is not None
        or isinstance(value, io.IOBase | types.GeneratorType)
        or hasattr(cls, "close") and not isinstance(value, type)
    )


def is_generator_function(value: object) -> bool:
    return isinstance(value, types.FunctionType) and bool(
        value.__code__.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR)
    )


# --- functions and classes defined in the cell (from their AST) ---------------------


def def_state_reason(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> str | None:
    """Why a function defined in the cell keeps state between calls, or None."""
    for default in (*node.args.defaults, *node.args.kw_defaults):
        if default is None or isinstance(default, ast.Constant | ast.Name | ast.Attribute):
            continue  # names are charged as reads and writes of what they name
        if not _constant(default):
            return "a function with a mutable default argument"
    body = node.body if isinstance(node.body, list) else [node.body]
    for sub in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(sub, ast.Nonlocal):
            return "a closure that changes its own state"
    return None


def _constant(expr: ast.expr) -> bool:
    """A literal no call can change: a constant, or a tuple of them."""
    if isinstance(expr, ast.Tuple):
        return all(_constant(e) for e in expr.elts)
    return isinstance(expr, ast.Constant)


def default_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """Global names a function's defaults hold (`cols=COLUMNS`): the function reaches them."""
    names: set[str] = set()
    for default in (*node.args.defaults, *node.args.kw_defaults):
        if default is not None:
            names |= {n.id for n in ast.walk(default) if isinstance(n, ast.Name)}
    return frozenset(names)


_ITERATOR_CALLS = frozenset({"iter", "map", "filter", "zip", "enumerate", "reversed", "open"})


def _iterator_expression(expr: ast.expr | None) -> bool:
    """`(x for x in xs)`, `iter(xs)`, `map(f, xs)`, `itertools.count()`: a one-shot iterator."""
    if isinstance(expr, ast.GeneratorExp):
        return True
    if not isinstance(expr, ast.Call):
        return False
    func = expr.func
    if isinstance(func, ast.Name):
        return func.id in _ITERATOR_CALLS
    return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (
        func.value.id == "itertools"
    )


def returns_iterator_def(node: ast.AST) -> bool:
    """A function that yields, or returns a generator expression or an iterator call."""
    if is_generator_def(node):
        return True
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return False
    if isinstance(node, ast.Lambda):
        return _iterator_expression(node.body)
    todo: list[ast.AST] = list(node.body)
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.Return) and _iterator_expression(sub.value):
            return True
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        todo.extend(ast.iter_child_nodes(sub))
    return False


def returns_iterator_code(code: types.CodeType) -> bool:
    """Bytecode fallback: it yields, builds a generator expression, or calls an iterator maker."""
    if code.co_flags & (inspect.CO_GENERATOR | inspect.CO_ASYNC_GENERATOR):
        return True
    if any(isinstance(c, types.CodeType) and c.co_name == "<genexpr>" for c in code.co_consts):
        return True
    return bool(_ITERATOR_CALLS.intersection(code.co_names) or "itertools" in code.co_names)


def is_generator_def(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    todo: list[ast.AST] = list(node.body)
    while todo:
        sub = todo.pop()
        if isinstance(sub, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        todo.extend(ast.iter_child_nodes(sub))
    return False


def class_def_state(node: ast.ClassDef) -> tuple[str | None, bool]:
    """(why the class keeps shared state or None, whether attribute access runs its code)."""
    reason = None
    access = False
    for stmt in node.body:
        if (
            isinstance(stmt, ast.Assign | ast.AnnAssign)
            and stmt.value is not None
            and not _constant(stmt.value)
            and not isinstance(stmt.value, ast.Lambda)
        ):
            reason = reason or f"class `{node.name}` has a mutable class attribute"
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            if stmt.name in ("__getattr__", "__getattribute__"):
                access = True
            for deco in stmt.decorator_list:
                if "property" in ast.unparse(deco) or ".setter" in ast.unparse(deco):
                    access = True
            first = stmt.args.args[0].arg if stmt.args.args else None
            for sub in ast.walk(stmt):
                targets: list[ast.expr] = []
                if isinstance(sub, ast.Assign):
                    targets = list(sub.targets)
                elif isinstance(sub, ast.AugAssign | ast.AnnAssign):
                    targets = [sub.target]
                elif isinstance(sub, ast.Global | ast.Nonlocal):
                    reason = reason or f"class `{node.name}` changes state in `{stmt.name}`"
                for target in targets:
                    if isinstance(target, ast.Attribute) and not (
                        isinstance(target.value, ast.Name) and target.value.id == first
                        and not any(isinstance(d, ast.Name) and d.id == "classmethod"
                                    for d in stmt.decorator_list)
                    ):
                        reason = reason or (
                            f"class `{node.name}` changes class state in `{stmt.name}`")
    return reason, access
