"""Which calls have outside effects, hidden global state, or defeat analysis.

Kept as plain tables so the policy is reviewable in one place: a call whose
qualified name (``numpy.random.seed``, ``builtins.print``) matches here is
ordered against every other effect (or, if opaque, against everything).
"""

from __future__ import annotations

import ast
import functools
import random
import re
import sys
import types
from enum import Enum


class CallKind(Enum):
    """How a call constrains ordering."""

    PURE = "pure"  # nothing beyond its arguments (subject to the mutation rules)
    EFFECT = "effect"  # outside effect or hidden global state: keeps order with other effects
    OPAQUE = "opaque"  # can read or bind any name: full barrier
    MUTATES_FIRST_ARG = "mutates-first-arg"  # next(), setattr(), heapq.heappush(), ...
    SETTING = "setting"  # changes process-wide state (cwd, sys.path, options): a barrier
    UNKNOWN = "unknown"  # a library the analysis does not know: may touch what it reaches
    READS_FILES = "reads-files"  # reads files only: ordered after effects (which may write them)


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
    "numpy.load",
    "numpy.save",
    "numpy.fromfile",
    "numpy.genfromtxt",
    "numpy.memmap",
    "numpy.lib.npyio",
    "tempfile.",
    "glob.",
    "fnmatch.",
    "pathlib.",
    "csv.",
    "sqlite3.",
    "threading.",
    "concurrent.",
    "multiprocessing.",
    "asyncio.",
    "atexit.",
    "gc.",
    "weakref.",
    "uuid.uuid1",
    "uuid.uuid4",
    "secrets.",
    "warnings.",
    "inspect.",
    "traceback.",
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
        "pathlib.Path",
        "pathlib.PurePath",
        "pathlib.PurePosixPath",
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


# Calls that change their first argument in place, whatever their result is used for.
MUTATES_FIRST_ARG_FUNCTIONS = frozenset(
    {
        "random.shuffle",
        "numpy.random.shuffle",
        "heapq.heappush",
        "heapq.heappop",
        "heapq.heapify",
        "heapq.heappushpop",
        "heapq.heapreplace",
        "bisect.insort",
        "bisect.insort_left",
        "bisect.insort_right",
        "numpy.copyto",
        "numpy.put",
        "numpy.place",
        "numpy.putmask",
        "numpy.fill_diagonal",
        "operator.setitem",
        "operator.delitem",
        "operator.iadd",
        "operator.iand",
        "operator.iconcat",
        "operator.ior",
        "operator.isub",
        "operator.imul",
        "copy.replace",
        "dict.update",
        "list.append",
        "list.extend",
        "list.sort",
        "set.add",
        "set.update",
    }
)
# Methods of numpy arrays and pandas objects that change the object itself (or, on
# a view taken in the same expression, its base): every other method of theirs
# leaves it as it is (pandas' `inplace=True` aside, which is checked at the call).
DATA_MUTATING_METHODS = frozenset(
    {
        "sort", "fill", "resize", "put", "itemset", "setfield", "setflags", "partition",
        "byteswap", "update", "insert", "pop", "popitem", "clear", "append", "extend",
        "remove", "discard", "add", "setdefault", "set_value", "set_flags", "__setitem__",
        "__delitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ior__",
        "__iand__", "plot", "hist", "boxplot", "to_csv", "to_parquet", "to_excel",
        "to_json", "to_pickle", "to_hdf", "to_sql", "to_feather", "tofile", "dump",
        "apply", "map", "pipe", "agg", "aggregate", "transform", "applymap", "eval", "query",
    }
)
# Method names that change an argument (as well as their object): rng.shuffle(deck).
ARGUMENT_MUTATING_METHODS = frozenset({"shuffle", "copyto", "at"})

# Process-wide settings: what every later statement may depend on.  Calls with
# these qualified names (or prefixes) run as barriers, with the reason shown.
SETTINGS: dict[str, str] = {
    "os.chdir": "sets the working directory",
    "os.fchdir": "sets the working directory",
    "os.putenv": "changes the environment",
    "os.unsetenv": "changes the environment",
    "os.environ": "changes the environment",
    "os.umask": "changes the process umask",
    "sys.path": "changes sys.path (where imports look)",
    "sys.modules": "changes the import system",
    "sys.meta_path": "changes the import system",
    "sys.setrecursionlimit": "changes a process-wide setting",
    "sys.stdout": "replaces standard output",
    "sys.stderr": "replaces standard error",
    "importlib.reload": "reloads a module",
    "importlib.invalidate_caches": "changes the import system",
    "site.addsitedir": "changes sys.path (where imports look)",
    "decimal.getcontext": "uses the decimal context (a context variable)",
    "decimal.setcontext": "sets the decimal context (a context variable)",
    "decimal.localcontext": "sets the decimal context (a context variable)",
    "decimal.DefaultContext": "changes the default decimal context",
    "pandas.set_option": "sets a pandas option",
    "pandas.reset_option": "sets a pandas option",
    "pandas.option_context": "sets pandas options",
    "pandas.options": "sets a pandas option",
    "pandas.set_eng_float_format": "sets a pandas option",
    "numpy.seterr": "sets numpy's floating-point error handling",
    "numpy.seterrcall": "sets numpy's floating-point error handling",
    "numpy.errstate": "sets numpy's floating-point error handling",
    "numpy.set_printoptions": "sets numpy's print options",
    "numpy.printoptions": "sets numpy's print options",
    "warnings.filterwarnings": "changes the warnings filters",
    "warnings.simplefilter": "changes the warnings filters",
    "warnings.resetwarnings": "changes the warnings filters",
    "warnings.catch_warnings": "changes the warnings filters",
    "warnings.filters": "changes the warnings filters",
    "logging.basicConfig": "configures logging",
    "logging.disable": "configures logging",
    "logging.config": "configures logging",
    "logging.root": "configures logging",
    "logging.getLogger": "may configure a logger",
    "locale.setlocale": "sets the locale",
    "matplotlib.rcParams": "sets matplotlib options",
    "matplotlib.rc": "sets matplotlib options",
    "matplotlib.use": "sets matplotlib's backend",
    "matplotlib.pyplot.rcParams": "sets matplotlib options",
    "matplotlib.pyplot.rc": "sets matplotlib options",
    "matplotlib.pyplot.style": "sets matplotlib options",
    "random.seed": "reseeds the global random generator",
    "random.setstate": "sets the global random generator's state",
    "numpy.random.seed": "reseeds numpy's global random generator",
    "numpy.random.set_state": "sets numpy's global random generator's state",
    "gc.disable": "changes the garbage collector",
    "gc.enable": "changes the garbage collector",
    "gc.set_threshold": "changes the garbage collector",
    "threadpoolctl.threadpool_limits": "limits library threads",
    "torch.set_num_threads": "sets a torch option",
    "torch.manual_seed": "reseeds torch's global random generator",
}

# Top-level modules whose functions are known: no hidden state beyond the tables
# above, and no change to their arguments beyond MUTATES_FIRST_ARG_FUNCTIONS and
# `out=`.  Calls into any other module may touch whatever they can reach.
TRUSTED_MODULES = frozenset(
    {
        "builtins", "math", "cmath", "statistics", "itertools", "functools", "operator",
        "collections", "re", "string", "textwrap", "json", "datetime", "fractions",
        "decimal", "copy", "dataclasses", "enum", "typing", "numbers", "numpy", "pandas",
        "scipy", "time", "os", "heapq", "bisect", "hashlib", "base64", "struct",
        "unicodedata", "array", "zlib", "random", "pprint", "difflib", "calendar",
        "contextlib", "types", "abc", "pickle", "io", "shutil", "subprocess", "sys",
        "socket", "urllib", "requests", "logging", "matplotlib", "pylab", "IPython",
        "torch", "pathlib", "tempfile", "glob", "fnmatch", "csv", "sqlite3", "threading",
        "concurrent", "multiprocessing", "asyncio", "atexit", "gc", "weakref", "uuid",
        "secrets", "warnings", "inspect", "traceback", "locale", "importlib", "site",
        "threadpoolctl", "pyarrow", "seaborn", "sklearn", "statsmodels", "dask",
        "kernel_ext", "tqdm", "ipywidgets", "bokeh", "graphviz", "numexpr", "keyword",
    }
)
# Of those, packages known to call back into notebook code only through what
# they are handed (charged at the call) but with hidden state of their own in
# places the tables do not list: their calls are ordered like effects.
_UNLISTED_STATE = frozenset({"sklearn", "statsmodels", "seaborn", "torch", "tqdm"})


def setting_reason(qualname: str) -> str | None:
    """Why a call or store with this qualified name changes process-wide state, or None."""
    parts = qualname.split(".")
    for end in range(len(parts), 0, -1):
        reason = SETTINGS.get(".".join(parts[:end]))
        if reason is not None:
            return reason or None
    return None


# Modules whose state is tied to the thread that uses it: the kernel's event loop,
# signal handlers (main thread only), sqlite connections, thread-locals, and
# logging (records name their thread). A statement touching one runs on the kernel's thread.
THREAD_BOUND_MODULES = frozenset({"asyncio", "signal", "sqlite3", "threading", "thread",
                                  "logging", "tkinter"})

# Functions that only read files: they run at once with each other, after every
# effect before them (an effect may write the file) and before every effect after.
FILE_READERS = ("pandas.read_", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile",
                "numpy.load")
FILE_READER_NAMES = frozenset({"json.load", "pickle.load"})
FILES = "<files>"  # the pseudo-name file readers read and effects write


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
    if setting_reason(qualname) is not None:
        return CallKind.SETTING
    if qualname in MUTATES_FIRST_ARG_FUNCTIONS:
        return CallKind.MUTATES_FIRST_ARG
    if qualname in PURE_EXCEPTIONS:
        return CallKind.PURE
    if qualname in FILE_READER_NAMES or qualname.startswith(FILE_READERS):
        return CallKind.READS_FILES
    if qualname in CLOCK_FUNCTIONS or qualname.startswith(EFFECT_PREFIXES):
        return CallKind.EFFECT
    if qualname.rsplit(".", 1)[-1] in EFFECT_METHODS:
        return CallKind.EFFECT
    root = qualname.split(".", 1)[0]
    if root not in TRUSTED_MODULES:
        return CallKind.UNKNOWN
    if root in _UNLISTED_STATE:
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
    if has_attribute_hooks(type(value)):
        return None  # probing it would run the user's __getattr__: not a library callable
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


@functools.lru_cache(maxsize=512)
def has_attribute_hooks(cls: type) -> bool:
    """Instances run code when an attribute is looked up (`__getattr__`, a custom
    `__getattribute__`): the analysis must not probe them, or it changes them."""
    try:
        if str(cls.__module__).split(".", 1)[0] in TRUSTED_MODULES:
            return False  # pandas' column access and the like change nothing
        custom = cls.__getattribute__ is not object.__getattribute__
        return custom or "__getattr__" in dir(cls)
    except Exception:  # noqa: BLE001 - an odd metaclass: do not probe
        return True


IMMUTABLE_TYPES = (int, float, complex, str, bytes, bool, type(None), frozenset, range)


def is_immutable(value: object) -> bool:
    """Values no method call can change (so calling methods on them is not a write)."""
    return type(value) in IMMUTABLE_TYPES


# Decorators that only wrap or mark the function (no registry, no outside effect).
PURE_DECORATORS = frozenset(
    {
        "builtins.property",
        "builtins.staticmethod",
        "builtins.classmethod",
        "functools.wraps",
        "functools.lru_cache",
        "functools.cache",
        "functools.cached_property",
        "functools.total_ordering",
        "functools.singledispatch",
        "dataclasses.dataclass",
        "typing.overload",
        "typing.final",
        "abc.abstractmethod",
        "numba.njit",
        "numba.jit",
    }
)


@functools.lru_cache(maxsize=1024)
def module_state_reason(qualname: str) -> str | None:
    """Why changing `qualname` (or calling a method of it) changes process-wide state.

    `sys.path.append`, `os.environ.update`, `pd.options.display.max_rows = 5`,
    `plt.rcParams[...] = ...`: the object is module-level state (not a module, a
    class or a function), so every statement after it may depend on it.
    """
    reason = setting_reason(qualname)
    if reason is not None:
        return reason
    parts = qualname.split(".")
    for end in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:end]))
        if module is None:
            continue
        obj: object = module
        for attr in parts[end:-1]:
            try:
                obj = getattr(obj, attr)
            except Exception:  # noqa: BLE001 - a lazy attribute may fail in any way
                return None
        if obj is module or isinstance(obj, type | types.ModuleType) or callable(obj):
            return None
        return f"changes module state `{'.'.join(parts[:-1])}`"
    return None


# Functions that evaluate an expression written in a string, reading names from
# the caller's scope: with `@name` (pandas' query/eval) or by plain name.
_AT_NAME = re.compile(r"@([A-Za-z_][A-Za-z_0-9]*)")
_NAME = re.compile(r"(?<![.\w'\"])([A-Za-z_][A-Za-z_0-9]*)")
_STRING_EXPRESSIONS = {
    "pandas.DataFrame.query": _AT_NAME,
    "pandas.DataFrame.eval": _AT_NAME,
    "pandas.eval": _NAME,
    "numexpr.evaluate": _NAME,
    "numexpr.re_evaluate": _NAME,
}


def string_expression_reads(qualname: str, call: ast.Call) -> list[frozenset[str]]:
    """Names that the string expressions passed to `call` read (one set per string).

    A string that is not a literal may name anything: it reads every name
    (`{"*"}` is not a name, so the caller sees an opaque marker instead).
    """
    pattern = _STRING_EXPRESSIONS.get(qualname)
    if pattern is None:
        return []
    found: list[frozenset[str]] = []
    for arg in (*call.args[:1], *(k.value for k in call.keywords if k.arg == "expr")):
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.append(frozenset(pattern.findall(arg.value)))
        else:
            found.append(frozenset({"<string expression>"}))
    return found
