"""Statements that run in a worker process: inputs go by value, bound names come back.

With ``%%parallel --processes``, a statement that only binds names (``x = f(a, b)``)
is sent to a worker process with the values of the names it reads, and the
values it binds come back and are bound in the kernel. Everything else (in-place
changes, effects, definitions, imports) must touch the kernel's own objects and
runs in the kernel.

Copies are only faithful when the plain cell would not have shared objects
between the result and the inputs. Statements whose value is just a name, an
attribute, an item or a slice (``v = a[2:5]``, ``df2 = df``, ``t = obj.attr``)
are never shipped; for the rest, the worker checks after the run
(:mod:`kernel_ext.cell.worker_run`) and, when copies would differ from the
plain cell, the kernel runs the statement itself. That is always safe: the
statement only binds names, so the worker's run left nothing behind.
"""

from __future__ import annotations

import ast
import contextvars
import marshal
import sys
import warnings
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from types import CodeType
from typing import Any

import cloudpickle

from kernel_ext.analysis import Statement
from kernel_ext.cell import transport
from kernel_ext.cell.process_state import captured_in
from kernel_ext.cell.remote_errors import rebuild
from kernel_ext.cell.worker_run import (
    Bound,
    Event,
    Outcome,
    Raised,
    RunInKernel,
    Shipment,
    WarningRecord,
    run_shipped,
)
from kernel_ext.errors import NotSendableError

_BINDING_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.AugAssign)


def can_ship(stmt: Statement) -> bool:
    """True for statements that only bind names, to values that are not their inputs as
    they are (a copy of ``a[2:5]`` would not be the view the plain cell binds)."""
    return _only_binds(stmt) and not _may_alias(stmt.node.value)  # type: ignore[attr-defined]


def _only_binds(stmt: Statement) -> bool:
    """True for statements whose whole effect is binding the names they assign."""
    node = stmt.node
    if stmt.effect or stmt.opaque or stmt.fanout is not None or stmt.produces_value:
        return False
    if not isinstance(node, _BINDING_STATEMENTS):
        return False
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names: set[str] = set()
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.add(sub.id)
            elif not isinstance(sub, ast.Tuple | ast.List | ast.Starred | ast.expr_context):
                return False  # attribute or subscript targets change an existing object
    return stmt.writes == frozenset(names)


def explain_shipping(statements: Sequence[Statement]) -> str:
    """For ``--explain --processes``: which statements go to a worker process, and why not."""
    lines = ["with --processes:"]
    for stmt in statements:
        where = f"#{stmt.index} (line {stmt.lineno})"
        if can_ship(stmt):
            lines.append(f"{where} runs in a worker process (in the kernel instead if its result "
                         "would share state with its inputs, it changes one, or a value cannot "
                         "be sent)")
        elif stmt.fanout is not None:
            lines.append(f"{where} fans out to worker processes if its iterations are slow")
        elif _only_binds(stmt):
            lines.append(f"{where} runs in the kernel: its value is (or holds) a name, "
                         "attribute, item or slice as it is, which a copy would not be")
        else:
            lines.append(f"{where} runs in the kernel (it changes objects, has effects, "
                         "defines or imports)")
    return "\n".join(lines)


def _may_alias(value: ast.expr | None) -> bool:
    """True when the value is (or holds) a name, attribute, item or slice as it is.

    ``v = a[2:5]``, ``df2 = df``, ``t = obj.attr``, ``pair = (a, b)``, ``x = a or b``:
    in the plain cell the result is (or holds) an object the inputs hold too,
    and such a statement costs nothing to run in the kernel anyway.
    """
    if value is None or isinstance(value, ast.Name | ast.Attribute | ast.Subscript | ast.Starred
                                   | ast.Constant):
        return True
    if isinstance(value, ast.Tuple | ast.List | ast.Set):
        return any(_may_alias(elt) for elt in value.elts)
    if isinstance(value, ast.Dict):
        return any(_may_alias(v) for v in value.values)
    if isinstance(value, ast.BoolOp):
        return any(_may_alias(v) for v in value.values)
    if isinstance(value, ast.IfExp):
        return _may_alias(value.body) or _may_alias(value.orelse)
    if isinstance(value, ast.NamedExpr):
        return _may_alias(value.value)
    return False


def prepare_shipment(
    namespace: Mapping[str, Any], code: CodeType, context: contextvars.Context | None,
    reads: tuple[str, ...], outputs: tuple[str, ...],
) -> Shipment | RunInKernel:
    """In the kernel, when the statement is due: its code and inputs, pickled; or why not.

    ``context``: the context variables the statement would see (the cell's, not the
    engine thread's); the settings workers take along are read there."""
    inputs = {name: namespace[name] for name in reads if name in namespace}
    try:
        blob = transport.dumps(inputs)
    except Exception as exc:  # noqa: BLE001 - any pickling failure: run it in the kernel
        return RunInKernel(f"{_unsendable(inputs)} cannot be sent to a worker process ({exc})")
    return Shipment(marshal.dumps(code), blob, outputs, captured_in(context))


def run_in_worker(shipment: Shipment | RunInKernel) -> Outcome:
    """The worker process's task (a refusal made in the kernel just comes back)."""
    return shipment if isinstance(shipment, RunInKernel) else run_shipped(shipment)


def settle_shipped(
    outcome: Outcome,
    namespace: MutableMapping[str, Any],
    run_here: Callable[[], None],
) -> str | None:
    """In the kernel: show the worker's output, then bind its values, raise its error, or
    run the statement here. Returns why it ran here (None when the worker's run stands)."""
    if not isinstance(outcome, RunInKernel) and stops_at_a_warning(outcome.events, namespace):
        run_here()  # the plain cell stops at that warning: the kernel's run does too
        return "a warning it raised is an error here"
    if isinstance(outcome, Bound):
        try:
            values = transport.loads(outcome.values)
        except Exception as exc:  # noqa: BLE001 - a result the kernel cannot load
            run_here()
            return f"what it binds cannot be loaded in the kernel ({exc})"
        replay_events(outcome.events, namespace)
        namespace.update(values)
        return None
    if isinstance(outcome, Raised):
        replay_events(outcome.events, namespace)
        raise rebuild(outcome.error)
    run_here()
    return outcome.reason


def stops_at_a_warning(events: list[Event], namespace: Mapping[str, Any]) -> bool:
    """Whether the kernel's warnings filters make one of the worker's warnings an error.

    The worker records every warning and carries on; in the kernel such a
    warning raises where it is warned, so the worker's run does not count.
    The filters are matched as :mod:`warnings` matches them, without warning.
    """
    for kind, record in events:
        if kind != "warning":
            continue
        module, _ = _charged_module(record.filename, namespace)
        text = str(record.message)
        category = type(record.message) if isinstance(record.message, Warning) else record.category
        for action, message, filter_category, module_re, lineno in warnings.filters:
            if ((message is None or message.match(text))
                    and issubclass(category, filter_category)
                    and (module_re is None or module_re.match(module or ""))
                    and (lineno == 0 or lineno == record.lineno)):
                if action == "error":
                    return True
                break
    return False


def replay_events(events: list[Event], namespace: MutableMapping[str, Any]) -> None:
    """Print what the worker printed and warn what it warned, in order, as the kernel would."""
    for kind, payload in events:
        if kind == "stdout":
            sys.stdout.write(payload)
        elif kind == "stderr":
            sys.stderr.write(payload)
        else:
            _warn(payload, namespace)


def _warn(record: WarningRecord, namespace: MutableMapping[str, Any]) -> None:
    """Warn as the plain cell would: under the kernel's filters, once-registries and display.

    The registry (which makes a "default" warning show once per place) is the
    one of the module the warning is charged to: the notebook's for cell code.
    """
    module, globals_ = _charged_module(record.filename, namespace)
    warnings.warn_explicit(
        record.message, record.category, record.filename, record.lineno, module=module,
        registry=globals_.setdefault("__warningregistry__", {}) if globals_ is not None else None,
        module_globals=globals_,
    )


def _charged_module(filename: str, namespace: Any) -> tuple[str | None, Any]:
    """The module a warning at ``filename`` is charged to: its name and globals."""
    if _is_cell_file(filename):
        return "__main__", namespace
    found = _module_of_file(filename)
    if found is None:
        return filename[:-3] if filename.endswith(".py") else filename, None
    return found.__name__, vars(found)


def _module_of_file(filename: str) -> Any:
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) == filename:
            return module
    return None


def _is_cell_file(filename: str) -> bool:
    """A file name IPython gave to a cell's code (its source lives in linecache only)."""
    import linecache

    entry = linecache.cache.get(filename)
    return entry is not None and entry[1] is None  # no modification time: not a real file


def _unsendable(inputs: Mapping[str, Any]) -> str:
    for name, value in inputs.items():
        try:
            cloudpickle.dumps(value)
        except Exception:  # noqa: BLE001 - the culprit
            return f"variable {name!r} ({type(value).__name__})"
    return "one of its inputs"


def explain_not_sendable(
    error: NotSendableError, stmt: Statement, namespace: Mapping[str, Any]
) -> NotSendableError:
    """Name the variable that could not be pickled, and say what to do."""
    for name in sorted(stmt.reads):
        if name not in namespace:
            continue
        try:
            cloudpickle.dumps(namespace[name])
        except Exception as exc:  # noqa: BLE001 - any pickling failure names the culprit
            value = namespace[name]
            return NotSendableError(
                f"line {stmt.lineno}: variable {name!r} ({type(value).__name__}) cannot be sent "
                f"to a worker process ({exc}). Run this cell on threads (drop --processes), "
                "or create the object inside the statement that uses it."
            )
    return NotSendableError(
        f"line {stmt.lineno}: the values this statement binds ({', '.join(sorted(stmt.writes))}) "
        f"cannot be sent back from a worker process ({error.__cause__ or error}). "
        "Run this cell on threads "
        "(drop --processes)."
    )
