"""Run a cell plainly and under ``%%parallel`` in a real kernel, and compare what a user sees.

The public API, for case suites and whole-notebook tests:

- ``Case(id, setup, cell, check)``: an earlier cell (run plain) and the cell under test.
- ``observe(kernel, code, tmp_dir)``: run ``code`` as it is (no reset) and return the
  outcome: status, stdout, stderr, outputs, results, error, namespace, files.
- ``run_cell(kernel, setup, cell, tmp_dir, magic_line)``: fresh namespace, empty
  ``tmp_dir``, setup, then the cell (plain when ``magic_line`` is None, else with
  ``magic_line`` such as ``"%%parallel --processes"`` as its first line); its outcome.
- ``differences(plain, other)``: the outcome keys that differ, with both values.
- ``compare_plain_and_parallel(kernel, setup, cell, tmp_dir, magic_line)``: both runs,
  asserting that every key matches.

``@TMP@`` in setup and cell is replaced by ``tmp_dir``. The outcome compares the
namespace as canonical JSON (with identity between names, the global RNG state and
the working directory), the files left in ``tmp_dir``, each stream's text, displays
and results in order (data, not ``Out[n]`` numbers), and the error: type, message
and the line of the innermost ``Cell In[n], line k`` frame of this cell.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kernel_session import ExecResult, KernelSession

TIMING = re.compile(r"^(CPU times|Wall time):.*$", re.MULTILINE)
FILENAME_IN_MESSAGE = re.compile(r"\((?:[^,()]+\.py|<[^>]+>), line (\d+)\)")
PRIVATE_KEYS = ("_traceback",)  # in an outcome for diagnostics, never compared


@dataclass(frozen=True)
class Case:
    """A cell under test and the earlier cell (``setup``) it runs after."""

    id: str
    setup: str
    cell: str
    # Sanity check on the plain run, so a case cannot pass vacuously.
    check: Callable[[dict[str, Any]], bool] | None = None
    marks: tuple[Any, ...] = ()


def names(outcome: dict[str, Any]) -> dict[str, Any]:
    """The canonical namespace of an outcome (name -> canonical JSON value)."""
    return outcome["namespace"]["names"]


def _files(directory: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, errors="replace") as f:
                out[name] = f.read()
        else:
            out[name] = "<dir>"
    return out


def _outputs(res: ExecResult) -> list[tuple[str, Any]]:
    """Displays and results in order, with the stream text between them.

    ipykernel flushes stdout and stderr on separate 0.2 s timers, so how the
    two streams interleave between two displays is timing, not meaning (two
    identical plain runs differ); each stream's text and every stream-vs-display
    order is compared exactly (ipykernel flushes both streams before a display).
    """
    out: list[tuple[str, Any]] = []
    for kind, payload in res.outputs:
        if kind.startswith("stream:"):
            name = kind.split(":", 1)[1]
            if not out or out[-1][0] != "streams":
                out.append(("streams", {"stdout": "", "stderr": ""}))
            out[-1][1][name] += TIMING.sub(r"\1: <t>", payload)
        else:
            out.append((kind, payload))
    return out


def _error_key(res: ExecResult) -> tuple[Any, ...] | None:
    err = res.error
    if err is None:
        return None
    frames = [("this" if n == res.execution_count else "other", k) for n, k in err.cell_lines()]
    evalue = FILENAME_IN_MESSAGE.sub(r"(<cell>, line \1)", err.evalue)
    return (err.ename, evalue, frames[-1] if frames else None)


def observe(kernel: KernelSession, code: str, tmp_dir: str, timeout: float = 60) -> dict[str, Any]:
    """Execute ``code`` as it is in the kernel's current namespace; what the user could see."""
    res = kernel.execute(code.replace("@TMP@", tmp_dir), timeout=timeout)
    return {
        "status": res.status,
        "stdout": TIMING.sub(r"\1: <t>", res.stdout),
        "stderr": res.stderr,
        "outputs": _outputs(res),
        "results": res.results,
        "error": _error_key(res),
        "namespace": kernel.snapshot(),
        "files": _files(tmp_dir) if os.path.isdir(tmp_dir) else {},
        "_traceback": res.error.text if res.error else "",
    }


def run_cell(
    kernel: KernelSession,
    setup: str,
    cell: str,
    tmp_dir: str,
    magic_line: str | None,
    timeout: float = 60,
) -> dict[str, Any]:
    """Fresh namespace and ``tmp_dir``, run ``setup`` plainly, then ``cell`` (under
    ``magic_line`` unless it is None); return the cell's outcome (see ``observe``)."""
    kernel.reset()
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    if setup:
        kernel.run_ok(setup.replace("@TMP@", tmp_dir))
    code = cell if magic_line is None else f"{magic_line}\n{cell}"
    return observe(kernel, code, tmp_dir, timeout=timeout)


def differences(plain: dict[str, Any], other: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (plain value, other value)}`` for every compared key that differs."""
    return {
        key: (plain[key], other.get(key))
        for key in plain
        if key not in PRIVATE_KEYS and other.get(key) != plain[key]
    }


def compare_plain_and_parallel(
    kernel: KernelSession,
    setup: str,
    cell: str,
    tmp_dir: str,
    magic_line: str = "%%parallel",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the cell plainly and under ``magic_line``; assert they match; return both outcomes."""
    plain = run_cell(kernel, setup, cell, tmp_dir, None)
    par = run_cell(kernel, setup, cell, tmp_dir, magic_line)
    for key, (want, got) in differences(plain, par).items():
        raise AssertionError(
            f"{key} differs under {magic_line}\nplain:    {want!r}\nparallel: {got!r}\n"
            f"cell:\n{cell}\nplain traceback:\n{plain['_traceback']}\n"
            f"parallel traceback:\n{par['_traceback']}"
        )
    return plain, par
