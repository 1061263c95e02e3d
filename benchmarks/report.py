"""Turning rows into a console table and ``RESULTS.md``, with the machine they came from."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path

from benchmarks.core import Row

HEADERS = ("case", "params", "unit", "kernel_ext", "peer", "ratio", "target", "pass", "note")


def machine() -> dict[str, str]:
    """What the numbers depend on: CPU, cores, Python, library versions, commit, date."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "CPU": cpu,
        "cores": f"{usable} usable ({os.cpu_count()} online)",
        "Python": f"{platform.python_version()} ({platform.python_implementation()})",
        "OS": platform.platform(),
        "kernel_ext": f"{_version('kernel_ext')} (commit {_commit()})",
        "dask": _version("dask"),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _cells(row: Row) -> tuple[str, ...]:
    passed = {True: "PASS", False: "FAIL", None: "-"}[row.passed]
    return (row.case, row.params, row.unit, _num(row.kernel_ext), f"{_num(row.peer)} "
            f"({row.peer_name})", f"{row.ratio:.2f}x", row.target or "-", passed, row.note)


def _num(x: float) -> str:
    return f"{x:,.1f}" if abs(x) >= 100 else f"{x:.3g}"


def table(rows: Sequence[Row]) -> str:
    """A plain fixed-width table for the terminal."""
    cells = [HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown(rows: Sequence[Row], info: dict[str, str], command: str, notes: str = "") -> str:
    """The whole ``RESULTS.md``: machine, command, summary of targets, the table, notes."""
    out = ["# kernel_ext vs Dask: benchmark results", "",
           f"Produced by `{command}`. Ratio = kernel_ext / peer in the row's unit "
           "(µs/task, seconds, MB: lower is better; speedup: higher is better).", "",
           "## Machine", ""]
    out += [f"- **{k}**: {v}" for k, v in info.items()]
    targeted = [r for r in rows if r.passed is not None]
    failed = [r for r in targeted if not r.passed]
    out += ["", "## Targets", "",
            f"{len(targeted) - len(failed)} of {len(targeted)} targeted rows pass."]
    out += [f"- FAIL: {r.case} {r.params}: {_num(r.kernel_ext)} {r.unit}, target {r.target}"
            for r in failed]
    out += ["", "## Results", "", "| " + " | ".join(HEADERS) + " |",
            "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |" for r in rows]
    if notes:
        out += ["", notes.strip()]
    return "\n".join(out) + "\n"
