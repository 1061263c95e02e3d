"""``%%parallel --processes`` means what the plain cell means, in a real kernel.

A statement shipped to a worker process brings back copies. Each case here is
a cell where copies would differ from the plain cell (a result that aliases an
input, an input changed in place by a library call, a value the worker cannot
load or send back), or where a worker's error or warning must read as the plain
cell's. Each runs plain and under ``%%parallel --processes`` and must leave the
same names, output and error (``plain_vs_parallel``); errors must also show the
same frames and none of the pool's or kernel_ext's, warnings the same text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kernel_session import KernelSession
from plain_vs_parallel import Case, compare_plain_and_parallel, names

MAGIC = "%%parallel --processes"

NUMPY = "import numpy as np\n"

ALIASING = [
    Case("numpy_slice_is_a_view", NUMPY + "a = np.arange(10)\n",
         "v = a[2:5]\nw = np.sqrt(a)\nv[0] = 99\ntotal = int(a.sum())\n",
         check=lambda o: names(o)["total"] == 45 - 2 + 99),
    Case("asarray_returns_its_input", NUMPY + "x = np.arange(6.0)\n",
         "y = np.asarray(x)\nz = np.asarray(x, dtype=float)\ny[0] = -1.0\nz[1] = -2.0\n",
         check=lambda o: names(o)["x"][3][1][:2] == [-1.0, -2.0]),
    Case("reshape_is_a_view", NUMPY + "a = np.arange(10)\n",
         "m = np.reshape(a, (2, 5))\nm[0, 0] = -7\nfirst = int(a[0])\n",
         check=lambda o: names(o)["first"] == -7),
    Case("second_name_for_a_frame", "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\n",
         "df2 = df\ndf2['b'] = df2['a'] * 10\ncols = list(df.columns)\n",
         check=lambda o: names(o)["cols"] == ["list", ["a", "b"]]),
    Case("list_taken_out_of_a_dict", "d = {'key': [1], 'other': [0]}\n",
         "lst = d['key']\nlst.append(2)\nn = len(d['key'])\n",
         check=lambda o: names(o)["n"] == 2),
    Case("attribute_of_an_object", "import types\nobj = types.SimpleNamespace(items=[1])\n",
         "t = obj.items\nt.append(5)\ncount = len(obj.items)\n",
         check=lambda o: names(o)["count"] == 2),
    Case("element_picked_by_a_library_call", "rows = [[1], [2, 3], [4]]\n",
         "longest = max(rows, key=len)\nlongest.append(0)\nsizes = [len(r) for r in rows]\n",
         check=lambda o: names(o)["sizes"] == ["list", [1, 3, 1]]),
    Case("tuple_holding_the_input_lists", "rows = [[1], [2]]\n",
         "pair = tuple(rows)\npair[0].append(9)\nhead = rows[0]\n",
         check=lambda o: names(o)["head"] == ["list", [1, 9]]),
    Case("closure_reading_a_global_later_changed",
         "FACTOR = 2\ndef make_scaler():\n    def scale(x):\n        return x * FACTOR\n"
         "    return scale\n",
         "sc = make_scaler()\nFACTOR = 10\nr = sc(2)\n", check=lambda o: names(o)["r"] == 20),
    Case("partial_holding_its_argument", "import functools\ndata = [1, 2]\n",
         "part = functools.partial(sum, data)\ndata.append(5)\ntotal = part()\n",
         check=lambda o: names(o)["total"] == 8),
]

IN_PLACE = [
    Case("heappop_changes_the_heap", "import heapq\nh = [5, 1, 3]\nheapq.heapify(h)\n",
         "smallest = heapq.heappop(h)\nrest = sorted(h)\n",
         check=lambda o: names(o)["rest"] == ["list", [3, 5]]),
    Case("insort_changes_the_list", "import bisect\nlst = [1, 4]\n",
         "r = bisect.insort(lst, 3)\nn = len(lst)\n", check=lambda o: names(o)["n"] == 3),
    Case("copyto_changes_its_target", NUMPY + "dst = np.zeros(3)\nsrc = np.ones(3)\n",
         "r = np.copyto(dst, src)\ns = float(dst.sum())\n", check=lambda o: names(o)["s"] == 3.0),
    Case("put_changes_the_array", NUMPY + "a = np.arange(4)\n",
         "r = np.put(a, [0], [42])\nfirst = int(a[0])\n",
         check=lambda o: names(o)["first"] == 42),
]

NOT_SENDABLE = [
    Case("cached_function_behind_a_partial",
         "import functools\n@functools.lru_cache\ndef fib(n):\n"
         "    return n if n < 2 else fib(n - 1) + fib(n - 2)\ng = functools.partial(fib)\n",
         "r = g(20)\ns = g(10)\n", check=lambda o: names(o)["r"] == 6765),
    Case("input_that_cannot_be_pickled", "import threading\nlock = threading.Lock()\n",
         "kind = type(lock).__name__.lower()\nsize = len(kind)\n",
         check=lambda o: names(o)["kind"] == "lock"),
    Case("result_that_cannot_be_pickled",
         "import threading\ndef make_lock(n):\n    return [threading.Lock() for _ in range(n)]\n",
         "locks = make_lock(2)\nn = len(locks)\n", check=lambda o: names(o)["n"] == 2),
]

# Settings of the kernel's process that a worker must see (each cell puts them back at
# its end, as the kernel is shared by the tests).
SETTINGS = [
    Case("decimal_precision_of_an_earlier_cell",
         "from decimal import Decimal, getcontext\ngetcontext().prec = 5\n",
         "r = Decimal(1) / Decimal(7)\ntext = str(r)\ngetcontext().prec = 28\n",
         check=lambda o: names(o)["text"] == "0.14286"),
    Case("numpy_print_options_set_in_the_cell", NUMPY + "arr = np.array([1.123456, 2.5])\n",
         "np.set_printoptions(precision=2)\ntext = repr(arr)\nnp.set_printoptions(precision=8)\n",
         check=lambda o: names(o)["text"] == "array([1.12, 2.5 ])"),
    Case("pandas_option_set_in_the_cell", "import pandas as pd\ns = pd.Series(range(40))\n",
         "pd.set_option('display.max_rows', 6)\nshown = repr(s)\nn = len(shown.splitlines())\n"
         "pd.reset_option('display.max_rows')\n", check=lambda o: names(o)["n"] < 10),
    Case("global_random_state_drawn_by_a_library",
         "import numpy as np, pandas as pd\nnp.random.seed(3)\n"
         "df = pd.DataFrame({'v': range(20)})\n",
         "pick = df.sample(3)\nrows = list(pick['v'])\n",
         check=lambda o: len(names(o)["rows"][1]) == 3),
    Case("state_kept_in_a_module_of_the_users",
         "import sys\nwith open('@TMP@/kx_helpers.py', 'w') as f:\n"
         "    f.write('CALLS = []\\ndef load(name):\\n'\n"
         "            '    CALLS.append(name)\\n    return name.upper()\\n')\n"
         "sys.path.insert(0, '@TMP@')\nsys.modules.pop('kx_helpers', None)\n"
         "from kx_helpers import load, CALLS\n",
         "a = load('sales')\nb = load('stock')\n", check=lambda o: names(o)["CALLS"][1] == [
             "sales", "stock"]),
    Case("library_class_patched_by_the_kernel",
         "import pandas as pd\norders = pd.DataFrame({'qty': [1, 2], 'price': [3.0, 4.0]})\n"
         "pd.DataFrame.kx_revenue = lambda self: float((self.qty * self.price).sum())\n",
         "total = orders.kx_revenue()\n", check=lambda o: names(o)["total"] == 11.0),
]

WARNINGS = [
    Case("numpy_runtime_warning_at_the_cell_line", NUMPY + "a = np.array([1.0, -1.0])\n",
         "lg = np.log(a)\nsq = np.sqrt(a)\nok = 1\n",
         check=lambda o: "RuntimeWarning" in o["stderr"]),
    Case("warning_from_a_library_file", NUMPY + "e = np.array([])\n",
         "m = np.mean(e)\nok = 2\n", check=lambda o: "Mean of empty slice" in o["stderr"]),
    Case("warning_inside_a_notebook_function",
         NUMPY + "def ratio(a, b):\n    return np.divide(a, b)\n",
         "q = ratio(np.ones(2), np.zeros(2))\n", check=lambda o: "divide by zero" in o["stderr"]),
]

ERRORS = [
    Case("error_in_a_library_call_of_a_notebook_function",
         NUMPY + "def square(x):\n    side = int(len(x) ** 0.5)\n"
         "    return np.reshape(x, (side, side))\n",
         "a = 2\nq = square(np.arange(5))\n", check=lambda o: o["error"][0] == "ValueError"),
    Case("error_chained_in_a_notebook_function",
         "def parse(s):\n    try:\n        return int(s)\n    except ValueError as e:\n"
         "        raise KeyError(s) from e\n",
         "v = parse('x')\n", check=lambda o: o["error"][0] == "KeyError"),
    Case("error_with_context_in_a_notebook_function",
         "def lookup(d, k):\n    try:\n        return d[k]\n    except KeyError:\n"
         "        return missing_name\n",
         "v = lookup({}, 'k')\n", check=lambda o: o["error"][0] == "NameError"),
    Case("error_that_cannot_be_pickled",
         "import threading\nclass Locked(Exception):\n    def __init__(self, msg):\n"
         "        super().__init__(msg)\n        self.lock = threading.Lock()\n"
         "def guarded(x):\n    raise Locked(f'no {x}')\n",
         "v = guarded(3)\n", check=lambda o: o["error"][:2] == ("Locked", "no 3")),
    Case("error_in_a_library_function", NUMPY + "a = np.arange(3)\n",
         "r = np.reshape(a, (2, 2))\n", check=lambda o: o["error"][0] == "ValueError"),
]

# Iterations slow enough (over 20 ms) to be fanned out to worker processes.
SLOW = "import time\ndef slow(x, d=0.03):\n    time.sleep(d)\n    return x\n"

FANNED_OUT = [
    Case("comprehension_keeping_its_elements", SLOW + "rows = [[1], [2], [3], [4]]\n",
         "same = [slow(r) for r in rows]\nsame[2].append(0)\nthird = rows[2]\n",
         check=lambda o: names(o)["third"] == ["list", [3, 0]]),
    Case("loop_appending_parts_of_a_global", SLOW + "table = {'a': [1], 'b': [2], 'c': [3]}\n"
         "out = []\n",
         "for k in ['a', 'b', 'c']:\n    out.append(slow(table)[k])\nout[1].append(9)\n"
         "b = table['b']\n", check=lambda o: names(o)["b"] == ["list", [2, 9]]),
    Case("loop_calling_a_module_function_that_keeps_state",
         "import sys\nwith open('@TMP@/kx_tally.py', 'w') as f:\n"
         "    f.write('import time\\nCALLS = []\\ndef load(name):\\n'\n"
         "            '    time.sleep(0.03)\\n    CALLS.append(name)\\n'\n"
         "            '    return name.upper()\\n')\n"
         "sys.path.insert(0, '@TMP@')\nsys.modules.pop('kx_tally', None)\n"
         "from kx_tally import load, CALLS\nout = []\n",
         "for name in ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']:\n    out.append(load(name))\n",
         check=lambda o: names(o)["CALLS"][1] == list("abcdefgh")),
    Case("library_call_printing_in_a_worker", "import pprint\n",
         "shown = pprint.pp({'b': [1, 2], 'a': 3})\nafter = 1\n",
         check=lambda o: o["stdout"] == "{'b': [1, 2], 'a': 3}\n"),
]

FANNED_OUT_ERRORS = [
    Case("loop_raising_in_a_worker",
         "import time\ndef risky(i, d=0.03, *rest, k=1, **kw):\n    time.sleep(d)\n"
         "    if i == 4:\n        raise ValueError(f'bad {i}')\n    return i\nout = []\n",
         "for i in range(8):\n    v = risky(i)\n    out.append(v)\n",
         check=lambda o: o["error"][0] == "ValueError"),
]

# Statements (by index) whose worker copies must not be kept, and a word of the reason
# the worker gives, when the analysis ships them at all (it may run them in the kernel).
KEPT_IN_KERNEL = {
    "asarray_returns_its_input": {0: "shares memory", 1: "shares memory"},
    "reshape_is_a_view": {0: "shares memory"},
    "element_picked_by_a_library_call": {0: "shares an object"},
    "tuple_holding_the_input_lists": {0: "shares an object"},
    "partial_holding_its_argument": {0: "shares an object"},
    "closure_reading_a_global_later_changed": {0: "detached"},
    "heappop_changes_the_heap": {0: "in place"},
    "insort_changes_the_list": {0: "in place"},
    "copyto_changes_its_target": {0: "in place"},
    "put_changes_the_array": {0: "in place"},
    "cached_function_behind_a_partial": {0: "cannot load", 1: "cannot load"},
    "input_that_cannot_be_pickled": {0: "cannot be sent"},
    "result_that_cannot_be_pickled": {0: "cannot be sent back"},
    "global_random_state_drawn_by_a_library": {0: "random"},
    "state_kept_in_a_module_of_the_users": {0: "module", 1: "module"},
    "library_class_patched_by_the_kernel": {0: "AttributeError"},
    "comprehension_keeping_its_elements": {},
    "loop_appending_parts_of_a_global": {},
}
# Statements that must have run in a worker process (so the case tests the worker's path).
IN_WORKER = {
    "numpy_slice_is_a_view": [1],
    "decimal_precision_of_an_earlier_cell": [0],
    "numpy_print_options_set_in_the_cell": [1],
    "pandas_option_set_in_the_cell": [1],
    "numpy_runtime_warning_at_the_cell_line": [0, 1],
    "warning_from_a_library_file": [0],
    "error_in_a_library_call_of_a_notebook_function": [1],
    "error_in_a_library_function": [0],
    "error_that_cannot_be_pickled": [],
    "library_call_printing_in_a_worker": [0],
}

CELL_FRAME = re.compile(r"Cell In\s*\[(\d+)\], line (\d+)(?:, in (\w+))?")
FILE_FRAME = re.compile(r"File\s+(\S+?):(\d+), in (\S+)")
CELL_FILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py")


def _frames(traceback_text: str) -> list[tuple[Any, ...]]:
    """Frame headers and chain separators, cell numbers relative to the last cell."""
    cells = [int(n) for n, _, _ in CELL_FRAME.findall(traceback_text)]
    last = max(cells, default=0)
    out: list[tuple[Any, ...]] = []
    for line in traceback_text.splitlines():
        if m := CELL_FRAME.search(line):
            out.append(("cell", int(m.group(1)) - last, m.group(2), m.group(3)))
        elif m := FILE_FRAME.search(line):
            out.append(("file", m.group(1), m.group(2), m.group(3)))
        elif "The above exception" in line or "During handling" in line:
            out.append(("chain", line.strip()))
    return out


def _cell_files(kernel: KernelSession) -> dict[str, int]:
    """IPython's cell file names, each with its cell number relative to the last cell."""
    numbers: dict[str, int] = kernel.evaluate("dict(get_ipython().compile._filename_map)")
    last = max(numbers.values())
    return {name: number - last for name, number in numbers.items()}


def _ran_in_kernel(kernel: KernelSession) -> dict[int, str]:
    """The statements of the last %%parallel cell that ran in the kernel instead, and why."""
    return kernel.evaluate(
        "get_ipython().find_cell_magic('parallel').__self__.last_run.ran_in_kernel")


def _placement(kernel: KernelSession, cell: str) -> dict[int, str]:
    """``--explain --processes``: statement index -> 'worker' or 'kernel'."""
    text = kernel.run_ok(f"{MAGIC} --explain\n{cell}").stdout.split("with --processes:")[1]
    return {int(m.group(1)): "worker" if "worker process (" in m.group(0) else "kernel"
            for m in re.finditer(r"^#(\d+) \(line \d+\) (.*)$", text, re.MULTILINE)}


def _check_where_it_ran(kernel: KernelSession, case: Case) -> None:
    """The case exercises what it means to: copies dropped for a reason, or a worker's run."""
    ran_here = _ran_in_kernel(kernel)
    placement = _placement(kernel, case.cell)
    for index, reason in KEPT_IN_KERNEL.get(case.id, {}).items():
        assert placement[index] == "kernel" or reason in ran_here.get(index, ""), (
            index, placement, ran_here)
    for index in IN_WORKER.get(case.id, []):
        assert placement[index] == "worker" and index not in ran_here, (index, placement,
                                                                         ran_here)


def _relative_cell_files(text: str, files: dict[str, int]) -> str:
    return CELL_FILE.sub(lambda m: f"<cell {files.get(m.group(0), '?')}>", text)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ALIASING + IN_PLACE
                                  + NOT_SENDABLE + FANNED_OUT + SETTINGS])
def test_processes_cell_leaves_what_the_plain_cell_leaves(
    kernel: KernelSession, case: Case, tmp_path: Any
) -> None:
    plain, _ = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                          MAGIC)
    assert plain["status"] == "ok"
    assert case.check is not None and case.check(plain), plain["namespace"]
    _check_where_it_ran(kernel, case)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in WARNINGS])
def test_worker_warnings_show_once_as_in_the_plain_cell(
    kernel: KernelSession, case: Case, tmp_path: Any
) -> None:
    plain_run = kernel.execute
    outcomes = []
    for magic in (None, MAGIC):
        kernel.reset()
        # Forget which warnings were shown already (a "default" warning shows once per place).
        kernel.run_ok("import warnings\nwarnings._filters_mutated()")
        kernel.run_ok(case.setup)
        res = plain_run(case.cell if magic is None else f"{magic}\n{case.cell}")
        outcomes.append(_relative_cell_files(res.stderr, _cell_files(kernel)))
    _check_where_it_ran(kernel, case)
    plain, parallel = outcomes
    assert case.check is not None and case.check({"stderr": plain})
    assert parallel == plain
    assert "dynamic-code" not in parallel


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in ERRORS + FANNED_OUT_ERRORS])
def test_worker_errors_read_as_the_plain_cells(
    kernel: KernelSession, case: Case, tmp_path: Any
) -> None:
    plain, par = compare_plain_and_parallel(kernel, case.setup, case.cell, str(tmp_path / "f"),
                                            MAGIC)
    assert case.check is not None and case.check(plain)
    assert _frames(par["_traceback"]) == _frames(plain["_traceback"])
    _check_where_it_ran(kernel, case)
    for machinery in ("kernel_ext", "loky", "RemoteTraceback", "dynamic-code"):
        assert machinery not in par["_traceback"]


def test_explain_says_which_statements_go_to_worker_processes(kernel: KernelSession) -> None:
    kernel.run_ok("import numpy as np\na = np.arange(4)")
    text = kernel.run_ok("%%parallel --processes --explain\nv = a[1:3]\nw = np.sqrt(a)\n"
                         "v[0] = 5\n").stdout
    assert "#0 (line 1) runs in the kernel: its value is (or holds) a name" in text, text
    assert "#1 (line 2) runs in a worker process" in text, text
    assert "#2 (line 3) runs in the kernel (it changes objects" in text, text
    assert kernel.run_ok("%%parallel --explain\nw = np.sqrt(a)\n").stdout.count("worker") == 0


def test_workers_survive_a_working_directory_that_was_removed(
    kernel: KernelSession, tmp_path: Any
) -> None:
    """A worker that followed the kernel into a directory later removed still runs the
    next shipped statements (it used to fail every one with FileNotFoundError)."""
    gone = tmp_path / "gone"
    gone.mkdir()
    kernel.run_ok(f"import os\n_home = os.getcwd()\nos.chdir({str(gone)!r})")
    kernel.run_ok("%%parallel --processes\na = sum(range(10))\nb = sum(range(5))")
    kernel.run_ok(f"os.chdir(_home)\nos.rmdir({str(gone)!r})")
    res = kernel.execute("%%parallel --processes\nc = sum(range(4))\nd = sum(range(3))")
    assert res.error is None, res.error and res.error.text
    assert kernel.evaluate("(c, d)") == (6, 3)
    assert 0 not in _ran_in_kernel(kernel)  # it really ran in a worker
