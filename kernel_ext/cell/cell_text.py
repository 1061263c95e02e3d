"""The text of the plain cell, so a ``%%parallel`` cell's code gets the plain cell's file name.

IPython names a cell's code after the cell's raw text (ipykernel: a hash of
it, ``/tmp/ipykernel_<pid>/<hash>.py``), and errors, warnings, ``%debug`` and
``%prun`` show that name. The magic only gets its body, which IPython always
ends with a newline, while a frontend sends a cell without one. So the raw
text of the running cell is remembered from ``pre_run_cell``, and the magic
names its code after that text minus the ``%%parallel`` line: the name the
plain cell (the same cell without the magic line) would get.
"""

from __future__ import annotations

from typing import Any

_MAGIC_LINE = "%%parallel"


class RunningCell:
    """The raw text of the cell the kernel runs now (as ``pre_run_cell`` gave it)."""

    def __init__(self) -> None:
        self.raw = ""

    def remember(self, info: Any) -> None:
        self.raw = getattr(info, "raw_cell", "") or ""


def install(shell: Any) -> RunningCell:
    """Remember every cell's raw text (once per shell)."""
    running = getattr(shell, "_kernel_ext_running_cell", None)
    if running is None:
        running = RunningCell()
        shell.events.register("pre_run_cell", running.remember)
        shell._kernel_ext_running_cell = running
    return running


def plain_cell_text(shell: Any, body: str) -> str:
    """The text the plain cell would have: the running cell's without its magic line.

    ``body`` (the magic's body) itself when the running cell is not this
    ``%%parallel`` cell (the magic called from code, a silent execution).
    """
    running = getattr(shell, "_kernel_ext_running_cell", None)
    raw = running.raw if running is not None else ""
    first, newline, rest = raw.partition("\n")
    if not newline or not first.startswith(_MAGIC_LINE):
        return body
    if rest == body or rest + "\n" == body:
        return rest
    return body
