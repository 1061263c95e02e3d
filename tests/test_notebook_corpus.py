"""Whole tutorial-style notebooks mean the same, cell by cell, under ``%%parallel``.

Each notebook in ``tests/notebook_corpus/`` (NumPy and pandas chapters written for
this suite) runs top to bottom in three real kernels: plain, with every code cell
prefixed by ``%%parallel``, and by ``%%parallel --processes``. After every cell the
parallel kernels must show what the plain one shows (see ``plain_vs_parallel``):
stdout, stderr, displays and results, the error, and the namespace. A cell that
starts with a magic (``%precision 3``) cannot take the prefix and runs plain in
all three. Every differing cell of a notebook is reported at once.

The kernels run with one hash seed, so that nothing but ``%%parallel`` separates
them (string hashing orders sets and some hash tables), and start from one seed
of the global random generators.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import parallel_kernel_session
from plain_vs_parallel import differences, observe

CORPUS = Path(__file__).resolve().parent / "notebook_corpus"
NOTEBOOKS = sorted(p.stem for p in CORPUS.glob("*.ipynb"))
MODES = {"threads": "%%parallel", "processes": "%%parallel --processes"}
# ipykernel names a cell's file /tmp/ipykernel_<pid>/<hash>.py: the pid differs per kernel
KERNEL_TMP = re.compile(r"/ipykernel_\d+/")
SHOWN = 400  # characters of a differing value shown in a report


def code_cells(notebook: str) -> list[str]:
    """The sources of a notebook's code cells, in order."""
    nb = nbformat.read(CORPUS / f"{notebook}.ipynb", as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def starts_with_magic(source: str) -> bool:
    """A cell whose first line is a magic cannot take a ``%%parallel`` line above it."""
    return source.lstrip().startswith("%")


def _same_kernel_paths(value: Any) -> Any:
    """``value`` with the kernel's own temp directory (named by its pid) made neutral."""
    if isinstance(value, str):
        return KERNEL_TMP.sub("/ipykernel_<pid>/", value)
    if isinstance(value, list):
        return [_same_kernel_paths(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_same_kernel_paths(v) for v in value)
    if isinstance(value, dict):
        return {k: _same_kernel_paths(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def hash_seed() -> Iterator[None]:
    """Kernels started while this is active share one string-hash seed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONHASHSEED", "0")
        yield


def run_notebook(notebook: str, magic_line: str | None, tmp_dir: Path) -> list[dict[str, Any]]:
    """Every code cell's outcome, run in order in a fresh kernel (prefixed unless plain)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    outcomes = []
    with parallel_kernel_session() as kernel:
        kernel.reset()
        for source in code_cells(notebook):
            plain = magic_line is None or starts_with_magic(source)
            code = source if plain else f"{magic_line}\n{source}"
            outcomes.append(_same_kernel_paths(observe(kernel, code, str(tmp_dir))))
    return outcomes


@cache
def _plain_outcomes(notebook: str, tmp_dir: Path) -> list[dict[str, Any]]:
    return run_notebook(notebook, None, tmp_dir)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return text if len(text) <= SHOWN else text[:SHOWN] + " ..."


def _namespace_difference(plain: dict[str, Any], other: dict[str, Any]) -> str:
    """Which names (and which process-wide state) differ, not the whole namespace."""
    lines = []
    names_a, names_b = plain["names"], other["names"]
    missing = sorted(set(names_a) - set(names_b))
    extra = sorted(set(names_b) - set(names_a))
    if missing:
        lines.append(f"      names missing: {missing}")
    if extra:
        lines.append(f"      names not in the plain run: {extra}")
    for name in sorted(set(names_a) & set(names_b)):
        if names_a[name] != names_b[name]:
            lines.append(
                f"      {name}: plain {_short(names_a[name])}\n"
                f"      {' ' * len(name)}  other {_short(names_b[name])}"
            )
    for key in sorted(set(plain) - {"names"}):
        if plain[key] != other.get(key):
            lines.append(f"      {key}: plain {_short(plain[key])}, other {_short(other.get(key))}")
    return "\n".join(lines)


def describe_cell(index: int, source: str, plain: dict[str, Any], other: dict[str, Any]) -> str:
    """One differing cell: where it is, what it says, and each difference."""
    head = source.strip().splitlines()
    shown = "\n".join(f"    | {line}" for line in head[:8])
    if len(head) > 8:
        shown += f"\n    | ... ({len(head)} lines)"
    parts = [f"  cell {index}:\n{shown}"]
    for key, (want, got) in differences(plain, other).items():
        if key == "namespace":
            parts.append(f"    namespace differs:\n{_namespace_difference(want, got)}")
        else:
            parts.append(
                f"    {key} differs:\n      plain {_short(want)}\n      other {_short(got)}"
            )
    if other["_traceback"] and other["_traceback"] != plain["_traceback"]:
        parts.append(f"    traceback under the magic:\n{_short(other['_traceback'])}")
    return "\n".join(parts)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_cell_of_the_notebook_means_the_plain_cell(
    notebook: str, mode: str, hash_seed: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    plain_dir = tmp_path_factory.getbasetemp() / f"plain-{notebook}"
    plain = _plain_outcomes(notebook, plain_dir)
    other = run_notebook(notebook, MODES[mode], tmp_path_factory.mktemp(f"{mode}-{notebook}"))
    sources = code_cells(notebook)
    assert len(plain) == len(other) == len(sources)
    differing = [
        describe_cell(i, sources[i], plain[i], other[i])
        for i in range(len(sources))
        if differences(plain[i], other[i])
    ]
    kept_plain = [i for i, source in enumerate(sources) if starts_with_magic(source)]
    if differing:
        pytest.fail(
            f"{notebook} under {MODES[mode]!r}: {len(differing)} of {len(sources)} code cells"
            f" differ from the plain run (cells {kept_plain} start with a magic and ran plain"
            " in all three kernels)\n" + "\n".join(differing),
            pytrace=False,
        )


def test_the_corpus_is_a_few_hundred_multi_statement_cells() -> None:
    """Guard against a corpus that passes because it is small or trivial."""
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS
    sources = [s for nb in NOTEBOOKS for s in code_cells(nb)]
    assert len(sources) >= 300, len(sources)
    statements = [len(_top_level_statements(s)) for s in sources if not starts_with_magic(s)]
    multi = sum(1 for n in statements if n >= 2)
    assert multi >= 0.6 * len(statements), (multi, len(statements))


def test_each_notebook_shows_output_and_expected_errors_when_run_plain(
    hash_seed: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The plain runs the comparisons lean on really print, display and raise."""
    for notebook in NOTEBOOKS:
        plain = _plain_outcomes(notebook, tmp_path_factory.getbasetemp() / f"plain-{notebook}")
        assert any(o["stdout"] for o in plain), notebook
        assert any(o["results"] for o in plain), notebook
        errors = [o["error"] for o in plain if o["error"]]
        assert 1 <= len(errors) < len(plain) // 4, (notebook, errors)
        assert plain[-1]["namespace"]["names"], notebook


def _top_level_statements(source: str) -> list[ast.stmt]:
    try:
        return ast.parse(source).body
    except SyntaxError:
        return []
