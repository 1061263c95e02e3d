"""What the differential tests share: the modes, a kernel per mode, and a clean run.

``run(kernel, case, scratch, magic)`` first puts back process-wide state an earlier
case may have changed (``%reset -f`` only clears names): working directory,
``sys.path`` and modules loaded from the scratch directory, ``os.environ``, warnings
filters, the decimal context, numpy error and print options, pandas display options,
attributes added to pandas' DataFrame and Series, and logging configuration; then
runs the case with ``plain_vs_parallel.run_cell``.
The fixtures ``scratch`` and ``mode_kernel`` are in ``differential.fixtures``
(a plugin: ``pytest_plugins = ("differential.fixtures",)``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from kernel_session import KernelSession
from plain_vs_parallel import Case, run_cell

MODES = {"threads": "%%parallel", "processes": "%%parallel --processes"}

# Run silently before each run: puts back what an earlier case may have changed
# process-wide (%reset -f only clears names), as it was when the kernel started.
RESTORE_PROCESS_STATE = r"""
def _kx_restore():
    import decimal, logging, os, sys, types, warnings
    base = sys.modules.get("_kx_differential_baseline")
    if base is None:
        import numpy as np
        import pandas as pd
        base = types.ModuleType("_kx_differential_baseline")
        base.pd_attrs = {cls: set(vars(cls)) for cls in (pd.DataFrame, pd.Series)}
        base.cwd, base.path, base.env = os.getcwd(), list(sys.path), dict(os.environ)
        base.filters = list(warnings.filters)
        base.np_err, base.np_print = np.geterr(), np.get_printoptions()
        base.loggers = set(logging.Logger.manager.loggerDict)
        base.root = (logging.root.level, list(logging.root.handlers))
        sys.modules[base.__name__] = base
        sys.dont_write_bytecode = True
    os.chdir(base.cwd)
    sys.path[:] = base.path
    os.environ.clear()
    os.environ.update(base.env)
    warnings.filters[:] = base.filters
    warnings._filters_mutated()
    decimal.setcontext(decimal.Context())
    for name, mod in list(sys.modules.items()):
        if (getattr(mod, "__file__", None) or "").startswith(SCRATCH):
            del sys.modules[name]
    np = sys.modules["numpy"]
    np.seterr(**base.np_err)
    np.set_printoptions(**base.np_print)
    pd = sys.modules["pandas"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.reset_option("^display\\.")
    for cls, attrs in base.pd_attrs.items():  # monkeypatched methods, registered accessors
        for extra in set(vars(cls)) - attrs:
            delattr(cls, extra)
            cls._accessors.discard(extra)
    logging.root.setLevel(base.root[0])
    logging.root.handlers[:] = base.root[1]
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name not in base.loggers and isinstance(logger, logging.Logger):
            for handler in logger.handlers:
                handler.close()
            logger.handlers.clear()
            logger.setLevel(logging.NOTSET)
            logger.propagate, logger.disabled = True, False
_kx_restore()
del _kx_restore
"""


FRAME = re.compile(r"Cell In\s*\[\d+\],\s*line (\d+)|File\s+(\S+?):\d+,\s*in\s+(\S+)")


def traceback_frames(text: str) -> list[str]:
    """The frames a traceback shows, as the user reads them: cell lines and the
    functions of files (no execution counts, no line numbers inside files)."""
    frames = []
    for m in FRAME.finditer(text):
        if m.group(1) is not None:
            frames.append(f"cell line {m.group(1)}")
        else:
            frames.append(f"{os.path.basename(m.group(2))} in {m.group(3)}")
    return frames


def run(kernel: KernelSession, case: Case, scratch: str, magic: str | None) -> dict[str, Any]:
    """Put back process-wide state, then run ``case`` (plain when ``magic`` is None).

    Besides ``run_cell``'s outcome, ``traceback`` holds the frames of the error's
    traceback, so a traceback that shows kernel_ext's machinery counts as a difference."""
    restore = RESTORE_PROCESS_STATE.replace("SCRATCH", repr(scratch))
    kernel.run_ok(restore, silent=True, store_history=False)
    outcome = run_cell(kernel, case.setup, case.cell, scratch, magic, timeout=60)
    outcome["traceback"] = traceback_frames(outcome["_traceback"])
    return outcome


def summarize(diff: dict[str, tuple[Any, Any]]) -> str:
    """One line per differing key; for the namespace, the names that differ."""
    lines = []
    for key, (plain, other) in diff.items():
        if key == "namespace" and isinstance(other, dict):
            for part in ("names", "aliases", "<rng>", "<cwd>"):
                p, o = plain.get(part), other.get(part)
                if part != "names":
                    if p != o:
                        lines.append(f"{part}: plain {p!r}, parallel {o!r}")
                    continue
                for name in sorted(set(p) | set(o)):
                    if p.get(name) != o.get(name):
                        lines.append(
                            f"names: {name} plain {_short(p.get(name, '<unbound>'))}, "
                            f"parallel {_short(o.get(name, '<unbound>'))}"
                        )
        else:
            lines.append(f"{key}: plain {_short(plain)}, parallel {_short(other)}")
    return "\n".join(lines)


def _short(v: Any, limit: int = 300) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."
