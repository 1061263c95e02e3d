"""Cells for the differential suite (tests/test_differential.py), one module per kind of state.

Each ``cases_<kind>.py`` module holds ``CASES``: ``Case`` objects (setup = an earlier
cell run plain, cell = the cell under test, check = a sanity check on the plain run).
``ControlCase`` adds what ``%%parallel --explain`` must show for cells that must still
run in parallel. ``@TMP@`` stands for a scratch directory that is emptied before each run.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plain_vs_parallel import Case, names


@dataclass(frozen=True)
class ControlCase(Case):
    """A cell whose parallelism must survive: statements by their first line in the cell."""

    independent_lines: tuple[int, ...] = ()  # their statements must "run independently"
    fanout_lines: tuple[int, ...] = ()  # their loop or comprehension must show "fan-out"


def _dedent(code: str) -> str:
    code = textwrap.dedent(code).strip("\n")
    return code + "\n" if code else ""


def case(
    id: str, setup: str, cell: str, check: Callable[[dict[str, Any]], bool] | None = None,
    marks: tuple[Any, ...] = (),
) -> Case:
    """A case from indented triple-quoted code (dedented, one trailing newline)."""
    return Case(id, _dedent(setup), _dedent(cell), check, marks)


def control(
    id: str,
    setup: str,
    cell: str,
    check: Callable[[dict[str, Any]], bool],
    independent: tuple[int, ...] = (),
    fanout: tuple[int, ...] = (),
) -> ControlCase:
    return ControlCase(
        id, _dedent(setup), _dedent(cell), check, independent_lines=independent, fanout_lines=fanout
    )


def decode(canon: Any) -> Any:
    """Turn the kernel snapshot's canonical JSON back into plain Python, for checks."""
    if not (isinstance(canon, list) and canon and isinstance(canon[0], str)):
        return canon
    tag = canon[0]
    if tag == "list":
        return [decode(x) for x in canon[1]]
    if tag == "tuple" or (
        len(canon) == 2
        and isinstance(canon[1], list)
        and tag[:1].isupper()
        and tag not in ("DataFrame", "Series", "Index", "Generator")
    ):
        return tuple(decode(x) for x in canon[1])  # tuples and named tuples
    if tag == "dict":
        return {_key(decode(k)): decode(v) for k, v in canon[1]}
    if tag in ("set", "frozenset"):
        return {_key(decode(json.loads(x))) for x in canon[1]}
    if tag == "ndarray":
        return decode(canon[3])
    if tag == "npscalar":
        return canon[2]
    if tag == "Series":
        return decode(canon[1]["data"])
    if tag == "DataFrame":
        return {k: decode(v) for k, v in decode(canon[1]["data"]).items()}
    if tag == "object" and len(canon) == 3:
        return decode(canon[2])
    return canon


def _key(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def value(outcome: dict[str, Any], name: str) -> Any:
    """The value a name holds after the run, decoded (KeyError if it is not bound)."""
    return decode(names(outcome)[name])


def out(outcome: dict[str, Any]) -> str:
    """The run's stdout text."""
    return str(outcome["stdout"])


def err(outcome: dict[str, Any]) -> tuple[Any, ...] | None:
    """The run's error key: (type, message, (which cell, line)), or None."""
    return outcome["error"]
