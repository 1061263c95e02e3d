"""Plan-equivalence check for analysis refactors: dump every plan of a corpus, compare later.

``python -m benchmarks.plan_corpus --dump before.json`` before a change and
``python -m benchmarks.plan_corpus --check before.json`` after it: every
statement's edges (with reasons), reads, writes, flags, positions and fan-out
must be identical.  The corpus: the benchmark's mixed cells (with the
namespace they leave behind), random cells built from the property tests'
statement shapes (seeded), and every cell-like string in the analysis tests
and faithfulness cases (without a namespace).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import dataclasses
import enum
import io
import json
import os
import random
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from kernel_ext.analysis import CellPlan, analyze_cell

ROOT = Path(__file__).resolve().parent.parent

_SHAPES = [
    "{t} = {x} + {y}",
    "{t} = []",
    "{t} = {x}",
    "{t}.append({x})",
    "print({x})",
    "del {t}",
    "{t} += {x}",
    "{t} = random.random() + {x}",
    "{t}[:0] = [{x}]",
    "{t} = {x}[:]",
    "{t} = [{x}]",
    "{t} = ({x}[-1:] or [[]])[0]",
    "{t} = len({x})",
    "exec('pass')",
    "{t} = [v + {x} for v in range(3)]",
    "{t}[{x}] = {y}",
    "{t} = f({x}, {y})",
    "f({x})",
    "for v in {x}:\n    {t}.append(v)",
    "{t} = {{k: {x} for k in 'ab'}}",
    "{t}.x.y({x})",
    "def {t}():\n    return {x}",
    "{t} = lambda: {x}.pop()",
    "{t} = iter({x})",
    "{t} = g({x})",
    "with open({x}) as {t}:\n    pass",
    "import os as {t}",
]


def _random_cells(count: int, seed: int) -> Iterator[str]:
    rnd = random.Random(seed)
    names = ["a", "b", "c", "d", "e", "f", "g"]
    for _ in range(count):
        lines = []
        for _ in range(rnd.randint(1, 30)):
            shape = rnd.choice(_SHAPES)
            lines.append(
                shape.format(t=rnd.choice(names), x=rnd.choice(names), y=rnd.choice(names))
            )
        yield "\n".join(lines) + "\n"


def _string_cells(path: Path) -> Iterator[str]:
    """String constants of a test file that parse as multi-statement-ish Python."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
            src = textwrap.dedent(node.value)
            try:
                ast.parse(src)
            except SyntaxError:
                continue
            if "\n" in src.strip() or "=" in src or "(" in src:
                yield src


def _namespace(setup: str) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(setup, ns)
    return ns


def corpus() -> Iterator[tuple[str, str, Mapping[str, object] | None]]:
    from benchmarks.cases_parallel import SETUP, mixed_cell

    for lines in (10, 50, 200, 500):
        cell = mixed_cell(lines)
        ns = _namespace(SETUP)
        yield f"mixed{lines}-empty", cell, None
        yield f"mixed{lines}-setup", cell, dict(ns)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(cell, ns)
        yield f"mixed{lines}-after", cell, ns
    nb = _namespace(
        "import random\nL = []\nk = 1\ndef f(a, b=0):\n    return a + k\n"
        "def g(x):\n    L.append(x)\n    return x\n"
    )
    for i, cell in enumerate(_random_cells(400, 20240501)):
        yield f"random{i}", cell, {"random": random} if i % 2 else nb
    for name in (
        "test_analysis_plan.py",
        "test_analysis_fanout.py",
        "test_analysis_names.py",
        "test_parallel_faithfulness.py",
        "test_parallel_properties.py",
    ):
        path = ROOT / "tests" / name
        if path.exists():
            for i, cell in enumerate(_string_cells(path)):
                yield f"{name}:{i}", cell, None
    yield from _faithfulness_cells()


def _canonical(value: Any) -> Any:
    """JSON-able, deterministic form of fan-out descriptions (AST nodes dumped)."""
    if isinstance(value, ast.AST):
        return ast.dump(value, include_attributes=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return {f.name: _canonical(getattr(value, f.name)) for f in fields}
    if isinstance(value, frozenset | set):
        return sorted(_canonical(v) for v in value)
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _faithfulness_cells() -> Iterator[tuple[str, str, Mapping[str, object] | None]]:
    """The faithfulness cases' cells, in the namespace their setup leaves (run in a tmp dir)."""
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from test_parallel_faithfulness import CASES
    except ImportError:
        return
    finally:
        sys.path.pop(0)
    cwd = os.getcwd()
    for case in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            os.chdir(tmp)
            try:
                ns = _namespace(case.setup.replace("@TMP@", tmp))
            except Exception:
                continue
            finally:
                os.chdir(cwd)
            yield f"faithful:{case.id}", case.cell.replace("@TMP@", "/tmp/plan-corpus"), ns


def describe(plan: CellPlan) -> list[Any]:
    return [
        {
            "deps": [[e.before, sorted(e.reasons)] for e in s.deps],
            "reads": sorted(s.reads),
            "writes": sorted(s.writes),
            "flags": [s.effect, s.opaque, s.produces_value],
            "pos": [s.index, s.lineno, s.end_lineno, s.source],
            "fanout": _canonical(s.fanout),
        }
        for s in plan.statements
    ]


def snapshot() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, cell, ns in corpus():
        try:
            out[key] = describe(analyze_cell(cell, ns))
        except SyntaxError as e:
            out[key] = ["SyntaxError", type(e).__name__, str(e), e.filename, e.lineno]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--dump", type=Path)
    group.add_argument("--check", type=Path)
    args = parser.parse_args()
    now = snapshot()
    if args.dump:
        args.dump.write_text(json.dumps(now, indent=0, sort_keys=True))
        print(f"{len(now)} cells written to {args.dump}")
        return 0
    before = json.loads(args.check.read_text())
    now = json.loads(json.dumps(now))
    diff = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    for key in diff[:20]:
        print(f"DIFFERS: {key}")
    print(f"{len(now)} cells, {len(diff)} differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
