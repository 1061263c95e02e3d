"""Benchmarks: kernel_ext's engine against Dask's schedulers, on the same graph dicts.

Run ``python -m benchmarks.run`` (``--quick`` for a fast subset, ``--write`` to
update ``benchmarks/RESULTS.md``). Cases live in a small registry
(:mod:`benchmarks.core`) so new ones can be added without touching the runner.
"""
