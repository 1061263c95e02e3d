"""Which calls have outside effects, hidden global state, or defeat analysis.

Kept as plain tables so the policy is reviewable in one place: a call whose
qualified name (``numpy.random.seed``, ``builtins.print``) matches here is
ordered against every other effect (or, if opaque, against everything).
"""

from __future__ import annotations

import functools
import random
import types
from enum import Enum


class CallKind(Enum):
    """How a call constrains ordering."""

    PURE = "pure"  # nothing beyond its arguments (subject to the mutation rules)
    EFFECT = "effect"  # outside effect or hidden global state: keeps order with other effects
    OPAQUE = "opaque"  # can read or bind any name: full barrier
    MUTATES_FIRST_ARG = "mutates-first-arg"  # next(), setattr(), delattr()


# Builtins that see or change the whole namespace.
OPAQUE_BUILTINS = frozenset(
    {"exec", "eval", "globals", "locals", "vars", "dir", "get_ipython", "__import__"}
)
# vars(x) / dir(x) with an argument only inspect x; without one they read the namespace.
OPAQUE_ONLY_WITHOUT_ARGS = frozenset({"vars", "dir"})

EFFECT_BUILTINS = frozenset({"print", "open", "input", "breakpoint", "help", "display"})
MUTATING_BUILTINS = frozenset({"next", "setattr", "delattr"})

# Qualified-name prefixes whose calls touch hidden global state or the outside world.
EFFECT_PREFIXES = (
    "random.",
    "numpy.random.",
    "matplotlib.pyplot.",
    "matplotlib.pylab.",
    "pylab.",
    "os.",
    "shutil.",
    "subprocess.",
    "sys.",
    "io.",
    "socket.",
    "urllib.",
    "requests.",
    "logging.",
    "pickle.dump",
    "pickle.load",
    "json.dump",
    "json.load",
    "pandas.read_",
    "torch.random.",
    "IPython.display.",
    "IPython.core.display",
)
# Pure constructors and string helpers inside the prefixes above.
PURE_EXCEPTIONS = frozenset(
    {
        "random.Random",
        "random.SystemRandom",
        "numpy.random.default_rng",
        "numpy.random.Generator",
        "numpy.random.RandomState",
        "numpy.random.SeedSequence",
        "numpy.random.PCG64",
        "numpy.random.PCG64DXSM",
        "numpy.random.MT19937",
        "numpy.random.Philox",
        "numpy.random.SFC64",
        "os.path.join",
        "os.path.basename",
        "os.path.dirname",
        "os.path.splitext",
        "os.path.split",
        "os.path.normpath",
        "os.fspath",
        "json.loads",
        "json.dumps",
        "pickle.loads",
        "pickle.dumps",
    }
)
# Reading the clock is ordered (timing code must bracket what it times); sleeping is harmless.
CLOCK_FUNCTIONS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.process_time",
        "datetime.datetime.now",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)
# Method names that do I/O or reseed, whatever the receiver is.
EFFECT_METHODS = frozenset(
    {
        "write",
        "writelines",
        "read",
        "readline",
        "readlines",
        "write_text",
        "write_bytes",
        "read_text",
        "read_bytes",
        "unlink",
        "mkdir",
        "rmdir",
        "touch",
        "savefig",
        "show",
        "to_csv",
        "to_parquet",
        "to_excel",
        "to_json",
        "to_pickle",
        "to_hdf",
        "to_sql",
        "seed",
        "manual_seed",
        "manual_seed_all",
        "set_seed",
    }
)


@functools.lru_cache(maxsize=4096)  # the same few names, call after call, in a long cell
def classify_qualname(qualname: str, nargs: int = 1) -> CallKind:
    """Classify a call by the dotted name it resolves to (``builtins.print``)."""
    if qualname.startswith("builtins."):
        name = qualname.removeprefix("builtins.")
        if name in OPAQUE_BUILTINS:
            if name in OPAQUE_ONLY_WITHOUT_ARGS and nargs:
                return CallKind.PURE
            return CallKind.OPAQUE
        if name in EFFECT_BUILTINS:
            return CallKind.EFFECT
        if name in MUTATING_BUILTINS:
            return CallKind.MUTATES_FIRST_ARG
        return CallKind.PURE
    if qualname.rsplit(".", 1)[-1] == "get_ipython":
        return CallKind.OPAQUE
    if qualname in PURE_EXCEPTIONS:
        return CallKind.PURE
    if qualname in CLOCK_FUNCTIONS or qualname.startswith(EFFECT_PREFIXES):
        return CallKind.EFFECT
    if qualname.rsplit(".", 1)[-1] in EFFECT_METHODS:
        return CallKind.EFFECT
    return CallKind.PURE


def qualname_of(value: object) -> str | None:
    """Dotted name for a module or a library callable found in the namespace.

    Bound methods of the hidden global generators (``from random import randint``,
    ``from numpy.random import rand``) map to their module functions so they
    classify as effects.
    """
    if isinstance(value, types.ModuleType):
        return value.__name__
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__name__", None)
    if owner is not None and name:
        if isinstance(owner, random.Random):
            return f"random.{name}"
        owner_type = type(owner)
        if owner_type.__name__ == "RandomState" and owner_type.__module__.startswith("numpy"):
            return f"numpy.random.{name}"
    module = getattr(value, "__module__", None)
    qual = getattr(value, "__qualname__", None)
    if isinstance(module, str) and isinstance(qual, str) and callable(value):
        return f"{module}.{qual}"
    return None


IMMUTABLE_TYPES = (int, float, complex, str, bytes, bool, type(None), frozenset, range)


def is_immutable(value: object) -> bool:
    """Values no method call can change (so calling methods on them is not a write)."""
    return type(value) in IMMUTABLE_TYPES
