"""What the run time adds to a ``%%parallel`` cell must not change what the plain cell means.

In a real kernel, each case runs plainly and under ``%%parallel`` and is compared
on names, output, errors and files (``tests/plain_vs_parallel.py``), and where it
matters on what a later plain cell then sees:

- context variables (``decimal``'s context, a user's ``ContextVar``): a statement
  sees what earlier statements set, and the kernel keeps it after the cell;
- finalizers: ``del`` or rebinding lets an object go at once (its ``__del__``
  prints in place, a file is flushed), not when the cell ends;
- output of threads a statement starts stays in that statement's place.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kernel_session import KernelSession
from plain_vs_parallel import compare_plain_and_parallel, differences, names, observe, run_cell

# ------------------------------------------------------------------ context variables


@pytest.fixture(autouse=True)
def _fresh_decimal_context_after(parallel_kernel: KernelSession) -> Iterator[None]:
    """The session's kernel is shared: leave its decimal context as a new kernel has it."""
    yield
    parallel_kernel.run_ok("__import__('decimal').setcontext(__import__('decimal').Context())",
                           silent=True, store_history=False)


DECIMAL_SETUP = (
    "import decimal\nfrom decimal import Decimal\ndecimal.setcontext(decimal.Context())\n"
)
CONTEXTVAR_SETUP = "import contextvars\nvar = contextvars.ContextVar('var', default='unset')\n"

CONTEXT_CASES = [
    pytest.param(
        DECIMAL_SETUP,
        "decimal.getcontext().prec = 5\nx = Decimal(1) / Decimal(3)\ntext = str(x)",
        "after = decimal.getcontext().prec",
        lambda o: names(o)["text"] == "0.33333",
        id="decimal_precision_set_in_place",
    ),
    pytest.param(
        DECIMAL_SETUP,
        "decimal.setcontext(decimal.Context(prec=4))\nx = str(Decimal(2) / Decimal(3))\n"
        "y = str(Decimal(1) / Decimal(7))",
        "after = decimal.getcontext().prec",
        lambda o: names(o)["x"] == "0.6667",
        id="decimal_context_replaced",
    ),
    pytest.param(
        DECIMAL_SETUP,
        "decimal.getcontext().prec = 6\n"
        "with decimal.localcontext() as ctx:\n    ctx.prec = 3\n    inside = str(Decimal(2) / 3)\n"
        "outside = str(Decimal(2) / 3)",
        "after = decimal.getcontext().prec",
        lambda o: names(o)["inside"] == "0.667" and names(o)["outside"] == "0.666667",
        id="decimal_localcontext",
    ),
    pytest.param(
        CONTEXTVAR_SETUP,
        "var.set('a')\nseen = var.get()\nvar.set(seen + 'b')\nlast = var.get()",
        "after = var.get()",
        lambda o: names(o)["last"] == "ab",
        id="user_contextvar_set_and_read",
    ),
    pytest.param(
        CONTEXTVAR_SETUP + "var.set('from an earlier cell')\n",
        "seen = var.get()\nvar.set(seen.upper())\nlast = var.get()",
        "after = var.get()",
        lambda o: names(o)["seen"] == "from an earlier cell",
        id="user_contextvar_of_an_earlier_cell",
    ),
]


@pytest.mark.parametrize(("setup", "cell", "later", "check"), CONTEXT_CASES)
def test_statements_see_and_leave_the_context_variables_of_the_plain_cell(
    kernel: KernelSession, tmp_path: Any, setup: str, cell: str, later: str, check: Any,
) -> None:
    tmp_dir = str(tmp_path / "files")
    outcomes = []
    for magic_line in (None, "%%parallel"):
        outcome = run_cell(kernel, setup, cell, tmp_dir, magic_line)
        later_outcome = observe(kernel, later, tmp_dir)  # a plain cell after it
        outcomes.append((outcome, later_outcome))
    (plain, plain_later), (par, par_later) = outcomes
    assert check(plain), plain
    assert differences(plain, par) == {}
    assert names(plain_later)["after"] == names(par_later)["after"]
    assert plain_later["status"] == "ok"


def test_a_context_variable_set_in_a_blocking_cell_is_kept_by_the_kernel(
    kernel: KernelSession,
) -> None:
    """With %pdb on the cell blocks instead of awaiting: the kernel keeps the change too."""
    kernel.run_ok(CONTEXTVAR_SETUP + "get_ipython().run_line_magic('pdb', 'on')\n")
    try:
        kernel.run_ok("%%parallel\nvar.set('set by the cell')\nx = 1")
    finally:
        kernel.run_ok("%pdb off")
    assert kernel.evaluate("var.get()") == "set by the cell"


def test_a_background_job_sees_the_context_variables_of_its_cell(kernel: KernelSession) -> None:
    kernel.run_ok(DECIMAL_SETUP + "decimal.getcontext().prec = 4\n")
    kernel.run_ok("%%parallel --bg\nx = str(Decimal(1) / 7)\ny = x + '!'")
    kernel.run_ok("%parallel wait")
    assert kernel.evaluate("y") == "0.1429!"


def test_fanned_out_iterations_see_the_statements_context_variables(
    kernel: KernelSession, tmp_path: Any,
) -> None:
    plain, _ = compare_plain_and_parallel(
        kernel,
        DECIMAL_SETUP + "import time\ndef third(x):\n    time.sleep(0.01)\n"
        "    return str(Decimal(x) / 3)\n",
        "decimal.getcontext().prec = 5\nvals = [third(x) for x in range(1, 12)]",
        str(tmp_path / "files"))
    assert names(plain)["vals"][1][-1] == "3.6667"


def test_a_context_variable_set_in_an_awaiting_cell_is_kept_by_the_kernel(
    kernel: KernelSession, tmp_path: Any,
) -> None:
    """A cell with top-level await ends the same way: the kernel keeps what the magic set."""
    kernel.run_ok(CONTEXTVAR_SETUP)
    kernel.run_ok("%%parallel\nvar.set('set by the cell')\nx = 1")
    assert kernel.evaluate("var.get()") == "set by the cell"


# -------------------------------------------------------------------------- finalizers

NOISY = (
    "class Noisy:\n"
    "    def __init__(self, name):\n        self.name = name\n"
    "    def __del__(self):\n        print('finalized', self.name)\n"
)


@pytest.mark.parametrize(
    ("setup", "cell", "check"),
    [
        pytest.param(
            NOISY,
            "a = Noisy('a')\nprint('made a')\ndel a\nprint('after del')",
            lambda o: o["stdout"] == "made a\nfinalized a\nafter del\n",
            id="del_runs_the_finalizer_in_place",
        ),
        pytest.param(
            NOISY,
            "a = Noisy('first')\nprint('made')\na = Noisy('second')\nprint('rebound')",
            lambda o: o["stdout"] == "made\nfinalized first\nrebound\n",
            id="rebinding_runs_the_finalizer_in_place",
        ),
        pytest.param(
            NOISY + "keep = Noisy('earlier cell')\n",
            "x = 1\ny = x + 1\ndel keep\nprint('done', y)",
            lambda o: o["stdout"] == "finalized earlier cell\ndone 2\n",
            id="del_of_a_name_from_an_earlier_cell",
        ),
        pytest.param(
            NOISY + "import time\nkeep = Noisy('old')\n",
            "s = time.sleep(0.3)\nkeep = Noisy('new')\nprint('end')",
            lambda o: o["stdout"] == "finalized old\nend\n",
            id="rebinding_while_an_earlier_statement_still_runs",
        ),
        pytest.param(
            "",
            "f = open('@TMP@/out.txt', 'w')\nf.write('hello')\ndel f\n"
            "text = open('@TMP@/out.txt').read()",
            lambda o: names(o)["text"] == "hello",
            id="a_deleted_file_object_is_closed_and_flushed",
        ),
        pytest.param(
            "",
            "f = open('@TMP@/out.txt', 'w')\nf.write('first')\nf = None\n"
            "text = open('@TMP@/out.txt').read()",
            lambda o: names(o)["text"] == "first",
            id="a_rebound_file_object_is_closed_and_flushed",
        ),
        pytest.param(
            "import warnings\nwarnings.simplefilter('always', ResourceWarning)\n",
            "f = open('@TMP@/out.txt', 'w')\nf.write('hello')\ndel f\n"
            "text = open('@TMP@/out.txt').read()",
            lambda o: "del f" in o["stderr"],
            id="the_unclosed_file_warning_names_the_del_line",
        ),
    ],
)
def test_objects_let_go_are_finalized_where_the_plain_cell_finalizes_them(
    kernel: KernelSession, tmp_path: Any, setup: str, cell: str, check: Any,
) -> None:
    plain, _ = compare_plain_and_parallel(kernel, setup, cell, str(tmp_path / "files"))
    assert check(plain), plain


def test_a_rollback_still_puts_back_the_names_of_statements_after_a_failure(
    kernel: KernelSession, tmp_path: Any,
) -> None:
    """Snapshots are let go early only when no earlier statement can fail any more."""
    plain, _ = compare_plain_and_parallel(
        kernel, NOISY + "b = Noisy('b0')\n",
        "import time\nslow = time.sleep(0.3) or 1 / 0\nb = Noisy('b1')",
        str(tmp_path / "files"),
    )
    assert plain["error"] is not None and plain["error"][0] == "ZeroDivisionError"
    assert names(plain)["b"][1] == "Noisy"


# ------------------------------------------------------------ output of started threads

# Threads are started and joined by a helper: a Thread object left in a name shows
# its daemon flag, which a thread started by a worker thread inherits (as from any
# daemon thread), unlike one started by the kernel's main thread.
RUN_IN_THREAD = (
    "import threading, time\n"
    "def in_thread(target, *args):\n"
    "    t = threading.Thread(target=target, args=args)\n    t.start()\n    t.join()\n"
)

THREAD_CASES = [
    pytest.param(
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def shout(i):\n    print('task', i)\n    return i * i\n",
        "print('before')\n"
        "with ThreadPoolExecutor(max_workers=1) as ex:\n"
        "    squares = list(ex.map(shout, range(4)))\n"
        "print('after', squares)\ndel ex  # its threads show their daemon flag",
        lambda o: o["stdout"].startswith("before\ntask 0\n"),
        id="thread_pool_executor",
    ),
    pytest.param(
        RUN_IN_THREAD,
        "print('first')\nin_thread(print, 'from a thread')\nprint('last')",
        lambda o: o["stdout"] == "first\nfrom a thread\nlast\n",
        id="threading_thread",
    ),
    pytest.param(
        RUN_IN_THREAD + "from IPython.display import display\n",
        "print('first')\nin_thread(display, {'k': 1})\nprint('last')",
        lambda o: [kind for kind, _ in o["outputs"]] == ["streams", "display", "streams"],
        id="display_from_a_thread",
    ),
    pytest.param(
        RUN_IN_THREAD + "def slow_print(text):\n    time.sleep(0.2)\n    print(text)\n",
        "x = time.sleep(0.3)\nprint('slept')\nin_thread(slow_print, 'nested')\nprint('joined')",
        lambda o: o["stdout"] == "slept\nnested\njoined\n",
        id="thread_output_after_a_slow_statement",
    ),
    pytest.param(
        RUN_IN_THREAD + "def nested():\n    in_thread(print, 'grandchild')\n",
        "print('one')\nin_thread(nested)\nprint('two')",
        lambda o: o["stdout"] == "one\ngrandchild\ntwo\n",
        id="thread_started_by_a_started_thread",
    ),
]


@pytest.mark.parametrize(("setup", "cell", "check"), THREAD_CASES)
def test_output_of_threads_a_statement_starts_keeps_its_place(
    kernel: KernelSession, tmp_path: Any, setup: str, cell: str, check: Any,
) -> None:
    plain, _ = compare_plain_and_parallel(kernel, setup, cell, str(tmp_path / "files"))
    assert check(plain), plain


def test_the_thread_start_hook_is_gone_after_the_cell(kernel: KernelSession) -> None:
    """Threads are followed only while a cell or job routes output."""
    kernel.run_ok("%%parallel\nimport threading\nstarted_in_cell = threading.Thread.start")
    assert kernel.evaluate("started_in_cell.__qualname__") != "Thread.start"  # hooked then
    assert kernel.evaluate("threading.Thread.start.__qualname__") == "Thread.start"
