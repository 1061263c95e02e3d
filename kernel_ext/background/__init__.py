"""Background cells: ``%%parallel --background``, automatic sync, and job management.

- :mod:`~kernel_ext.background.registry`: the numbered jobs and their releaser thread;
- :mod:`~kernel_ext.background.sync`: later cells wait for exactly what they need;
- :mod:`~kernel_ext.background.routing`: output goes to the cell that started a job;
- :mod:`~kernel_ext.background.magics_jobs`: ``%jobs`` and ``%parallel jobs|cancel|wait|status``
  (``status``: :mod:`~kernel_ext.background.magics_status`).
"""

from __future__ import annotations

from typing import Any

from kernel_ext.background.registry import BackgroundJob, JobRegistry

__all__ = ["BackgroundJob", "JobRegistry", "install", "registry_of"]


def install(shell: Any, magics: Any) -> JobRegistry:
    """Give ``magics`` a job registry and put the sync transformer in ``shell`` (once)."""
    from kernel_ext.background.sync import SyncTransformer

    registry = JobRegistry(shell)
    magics.job_registry = registry
    shell.ast_transformers[:] = [
        t for t in shell.ast_transformers if type(t).__name__ != "SyncTransformer"
    ]
    shell.ast_transformers.append(SyncTransformer(registry))
    return registry


def registry_of(shell: Any | None) -> JobRegistry | None:
    """The job registry of ``shell`` (default: the running IPython), if kernel_ext is loaded."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        return None
    magics = shell.magics_manager.registry.get("Parallel")
    return getattr(magics, "job_registry", None)
