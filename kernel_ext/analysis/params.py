"""What a notebook function does to the arguments it is given.

`z = add(c, 1)` changes `c` when `def add(lst, x): lst.append(x)`: the plan charges
the call with the parameters the function may change in place (or call: a callable
it is handed may keep state), from its source when IPython still has it, else
from its bytecode, following the notebook functions it passes them on to.
"""

from __future__ import annotations

import ast
import dis
import inspect
import linecache
import textwrap
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from kernel_ext.analysis.names import CallSite, receiver_roots


def code_objects(code: types.CodeType) -> Iterable[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


@dataclass(frozen=True)
class ParamMutation:
    """Which parameters a function may change in place (and so the arguments passed there)."""

    positional: tuple[str, ...] = ()  # positional parameter names, in order
    keyword: frozenset[str] = frozenset()  # parameters that can be passed by keyword
    changed: frozenset[str] = frozenset()  # parameters (including *args/**kwargs) it may change
    varargs: str | None = None
    varkw: str | None = None
    everything: bool = False  # unknown: every argument may be changed

    def __bool__(self) -> bool:
        return self.everything or bool(self.changed)

    def written(self, site: CallSite) -> set[str]:
        """Names the call `site` hands to a parameter this function may change."""
        if not self:
            return set()
        if self.everything:
            out = set(site.starred) | site.double_starred
            for names in site.positional:
                out |= names
            for _, names in site.keywords:
                out |= names
            return out
        changed = self.changed
        star = self.varargs is not None and self.varargs in changed
        out = set()
        for i, names in enumerate(site.positional):
            if i < len(self.positional):
                if self.positional[i] in changed:
                    out |= names
            elif star:
                out |= names
        if star or any(p in changed for p in self.positional):
            out |= site.starred  # where *args lands is not known: any changed position
        dstar = self.varkw is not None and self.varkw in changed
        for name, names in site.keywords:
            if (name in changed and name in self.keyword) or (dstar and name not in self.keyword):
                out |= names
        out |= site.double_starred  # any changed parameter may be passed through **kwargs
        return out


EVERYTHING = ParamMutation(everything=True)
MAX_CALL_DEPTH = 8  # bound on following parameters into called notebook functions


def ast_param_mutation(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda,
    callee: Callable[[str], ParamMutation | None],
) -> ParamMutation:
    """Parameters a function body may change: a method call on, item/attribute
    assignment to, `del` of an item of, or augmented assignment of the parameter
    or a local that may hold (part of) it, or passing it to a notebook function
    that changes that parameter (`callee` gives the summary of a global name).
    Flow-insensitive over the whole body, nested functions included."""
    args = node.args
    positional = tuple(a.arg for a in (*args.posonlyargs, *args.args))
    keyword = frozenset(a.arg for a in (*args.args, *args.kwonlyargs))
    params = set(positional) | keyword
    for extra in (args.vararg, args.kwarg):
        if extra is not None:
            params.add(extra.arg)
    flows: dict[str, set[str]] = {}  # name -> names that may come to hold (part of) its object
    changed: set[str] = set()
    local: set[str] = set(params)

    def loads(expr: ast.AST) -> set[str]:
        return {n.id for n in ast.walk(expr) if isinstance(n, ast.Name)}

    def target(tgt: ast.expr, sources: set[str]) -> None:
        if isinstance(tgt, ast.Name):
            local.add(tgt.id)
            for source in sources:
                flows.setdefault(source, set()).add(tgt.id)
        elif isinstance(tgt, ast.Attribute | ast.Subscript):
            roots = receiver_roots(tgt.value)
            changed.update(roots)
            for source in sources:
                flows.setdefault(source, set()).update(roots)
        elif isinstance(tgt, ast.Starred):
            target(tgt.value, sources)
        elif isinstance(tgt, ast.Tuple | ast.List):
            for elt in tgt.elts:
                target(elt, sources)

    body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    calls: list[ast.Call] = []
    for sub in (n for stmt in body for n in ast.walk(stmt)):
        if isinstance(sub, ast.Assign):
            for tgt in sub.targets:
                target(tgt, loads(sub.value))
        elif isinstance(sub, ast.AnnAssign) and sub.value is not None:
            target(sub.target, loads(sub.value))
        elif isinstance(sub, ast.AugAssign):
            if isinstance(sub.target, ast.Name):
                changed.add(sub.target.id)
            target(sub.target, loads(sub.value))
        elif isinstance(sub, ast.For | ast.AsyncFor | ast.comprehension):
            target(sub.target, loads(sub.iter))
        elif isinstance(sub, ast.withitem) and sub.optional_vars is not None:
            target(sub.optional_vars, loads(sub.context_expr))
        elif isinstance(sub, ast.NamedExpr):
            target(sub.target, loads(sub.value))
        elif isinstance(sub, ast.Delete):
            for tgt in sub.targets:
                if isinstance(tgt, ast.Attribute | ast.Subscript):
                    changed.update(receiver_roots(tgt.value))
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = sub.args
            for a in (*inner.posonlyargs, *inner.args, *inner.kwonlyargs):
                local.add(a.arg)
            for a in (inner.vararg, inner.kwarg):
                if a is not None:
                    local.add(a.arg)
            if not isinstance(sub, ast.Lambda):
                local.add(sub.name)
        elif isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute):
                changed.update(receiver_roots(sub.func.value))  # a method may change its object
            elif isinstance(sub.func, ast.Name) and sub.func.id in local:
                changed.add(sub.func.id)  # calling what it was handed: a stateful callable
            calls.append(sub)
    for call in calls:
        if isinstance(call.func, ast.Name) and call.func.id not in local:
            summary = callee(call.func.id)
            if summary:
                changed |= summary.written(_site_of(call))
    return ParamMutation(
        positional=positional,
        keyword=keyword,
        changed=_changed_params(params, changed, flows),
        varargs=args.vararg.arg if args.vararg is not None else None,
        varkw=args.kwarg.arg if args.kwarg is not None else None,
    )


def _site_of(call: ast.Call) -> CallSite:
    """A call site inside a function body: every name an argument mentions is handed over."""

    def names(expr: ast.expr) -> frozenset[str]:
        return frozenset(receiver_roots(expr))

    positional: list[frozenset[str]] = []
    starred: set[str] = set()
    for arg in call.args:
        if starred or isinstance(arg, ast.Starred):
            starred |= names(arg)
        else:
            positional.append(names(arg))
    keywords = tuple((k.arg, names(k.value)) for k in call.keywords if k.arg is not None)
    double = frozenset(n for k in call.keywords if k.arg is None for n in names(k.value))
    return CallSite("", tuple(positional), frozenset(starred), keywords, double)


_ATTRIBUTE_OPS = frozenset({"LOAD_METHOD", "LOAD_ATTR", "STORE_ATTR", "DELETE_ATTR"})
_STORES_INTO = frozenset({"STORE_SUBSCR", "DELETE_SUBSCR", "STORE_ATTR", "DELETE_ATTR"})
_LOCAL_LOADS = frozenset({"LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE", "LOAD_FAST_CHECK"})
_LOCAL_STORES = frozenset({"STORE_FAST", "STORE_DEREF"})


def _code_param_mutation(
    code: types.CodeType, callee: Callable[[str], ParamMutation | None]
) -> ParamMutation:
    """Bytecode summary, for functions whose source is not available.

    Per source line (of this code and nested code): a local stored on a line
    that loads a local may hold (part of) it; a local loaded right before an
    attribute/method op, or stored by an in-place operator, is changed; on a
    line that stores into an item or attribute, uses an item as an object, or
    calls a notebook function that changes a parameter, every local loaded is.
    """
    nargs = code.co_argcount + code.co_kwonlyargcount
    names = code.co_varnames
    positional = names[: code.co_argcount]
    keyword = frozenset(names[code.co_posonlyargcount : nargs])
    varargs = varkw = None
    end = nargs
    if code.co_flags & inspect.CO_VARARGS:
        varargs, end = names[end], end + 1
    if code.co_flags & inspect.CO_VARKEYWORDS:
        varkw, end = names[end], end + 1
    params = set(names[:end])
    flows: dict[str, set[str]] = {}
    changed: set[str] = set()
    for sub in code_objects(code):
        lines: dict[int | None, list[dis.Instruction]] = {}
        for instr in dis.get_instructions(sub):
            lines.setdefault(instr.positions.lineno if instr.positions else None, []).append(instr)
        for instructions in lines.values():
            loaded: set[str] = set()
            stored: set[str] = set()
            everything = False
            previous: dis.Instruction | None = None
            chain: str | None = None  # what an attribute chain starts from: a local, or None
            global_chain = False  # ... or a global / constant (module.attr.f())
            for instr in instructions:
                op = instr.opname
                if op in _ATTRIBUTE_OPS:
                    if chain is not None:
                        changed.add(chain)  # p.m(), p.a.b(), p.x = v
                    elif not global_chain:
                        everything = True  # p[k].m(), (a or b).m(), p.x += 1 ...
                elif op in _LOCAL_LOADS:
                    chain, global_chain = instr.argval, False
                elif op in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_CONST"):
                    chain, global_chain = None, True
                else:
                    chain, global_chain = None, False
                if op in _LOCAL_LOADS:
                    loaded.add(instr.argval)
                elif op in _LOCAL_STORES:
                    stored.add(instr.argval)
                    if previous is not None and (
                        previous.opname.startswith("INPLACE_")
                        or (previous.opname == "BINARY_OP" and str(previous.argrepr).endswith("="))
                    ):
                        changed.add(instr.argval)
                if op in _STORES_INTO:
                    everything = True
                elif op in ("LOAD_GLOBAL", "LOAD_NAME") and not everything:
                    everything = bool(callee(instr.argval))
                previous = instr
            if everything:
                changed |= loaded
            for source in loaded:
                flows.setdefault(source, set()).update(stored)
    return ParamMutation(positional, keyword, _changed_params(params, changed, flows),
                         varargs, varkw)


def _changed_params(params: Iterable[str], changed: set[str],
                    flows: Mapping[str, Iterable[str]]) -> frozenset[str]:
    """Parameters that are changed themselves or through a local that may hold them."""
    hit: set[str] = set()
    for param in params:
        seen, todo = {param}, [param]
        while todo:
            name = todo.pop()
            if name in changed:
                hit.add(param)
                break
            for nxt in flows.get(name, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
    return frozenset(hit)


def namespace_function_mutation(
    func: types.FunctionType, callee: Callable[[str], ParamMutation | None]
) -> ParamMutation:
    """From the function's source when IPython (linecache) still has it, else its bytecode."""
    node = function_node(func)
    if node is not None:
        return ast_param_mutation(node, callee)
    return _code_param_mutation(func.__code__, callee)


def function_node(func: types.FunctionType) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    code = func.__code__
    try:
        lines = linecache.getlines(code.co_filename)
        if not lines:
            return None
        block = inspect.getblock(lines[code.co_firstlineno - 1 :])
        tree = ast.parse(textwrap.dedent("".join(block)))
    except (SyntaxError, IndexError, ValueError, TypeError, inspect.EndOfBlock):
        return None
    if len(tree.body) != 1:
        return None
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name != func.__name__:
        return None
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
    if tuple(names) != code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]:
        return None  # not the source this code was compiled from
    return node
