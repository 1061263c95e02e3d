"""Property: cells mixing the kinds of hidden state mean the plain cell, under ``%%parallel``.

A small grammar of statement templates over one shared setup, each template
reaching state the way one kind of the differential suite does (a closure's
counter, a mutable default, an ``lru_cache``, a bound ``__next__``, a function
taking a local alias of a global list, a shared generator, a numpy view, the
global ``random`` generator, a helper reading a global a loop rebinds, a name
used inside ``df.query``, an error in a helper, a bound method kept in a name, a
thread pool that prints, a
finalizer that prints, a file flushed by rebinding its handle, numpy print options set
in a ``with`` block). Hypothesis draws cells of one to
six such statements; each runs plain and under ``%%parallel`` (threads and
``--processes``) in a real kernel, and everything observable must match.
"""

from __future__ import annotations

from differential.harness import MODES, run, summarize
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from kernel_session import KernelSession
from plain_vs_parallel import Case, differences

pytest_plugins = ("differential.fixtures",)  # the fixtures mode_kernel and scratch

SETUP = """\
import functools, itertools, random, time
import numpy as np
import pandas as pd
def make_tally():
    n = 0
    def tally(k):
        nonlocal n
        time.sleep(0.01 * k)
        n += k
        return n
    return tally
tally = make_tally()
def remember(x, seen=[]):
    time.sleep(0.01)
    seen.append(x)
    return len(seen)
@functools.lru_cache(maxsize=None)
def cached(x):
    time.sleep(0.02)
    return x * 2
tick = itertools.count(1).__next__
LOG = []
def record(x):
    buf = LOG
    time.sleep(0.01)
    buf.append(x)
    return len(buf)
def gen(n):
    for i in range(n):
        time.sleep(0.005)
        yield i
g = gen(50)
arr = np.arange(8)
k = 1
def use_k():
    time.sleep(0.01)
    return k * 10
people = pd.DataFrame({"age": [20, 30, 40, 50]})
def risky(x):
    if x == 3:
        raise ValueError(f"bad {x}")
    return x
from concurrent.futures import ThreadPoolExecutor
def shout(n):
    with ThreadPoolExecutor(max_workers=1) as ex:
        return list(ex.map(lambda i: print("worker", i) or i, range(n)))
class Resource:
    def __init__(self, n):
        self.n = n
    def __del__(self):
        print("closed", self.n)
class Basket:
    def __init__(self):
        self.items = []
    def add(self, x):
        time.sleep(0.02)
        self.items.append(x)
        return len(self.items)
basket = Basket()
put = basket.add
import os
random.seed(0)
"""

NAMES = ("v0", "v1", "v2")

TEMPLATES = (
    "{x} = tally({n})",
    "{x} = remember({n})",
    "{x} = cached({n})",
    "{x} = cached.cache_info().misses",
    "{x} = tick()",
    "{x} = record({n})",
    "{x} = len(LOG)",
    "{x} = next(g)",
    "{x} = list(itertools.islice(g, {n}))",
    "view = arr[{n}:]",
    "view[:] = {n}",
    "{x} = int(arr.sum())",
    "random.seed({n})",
    "{x} = random.random()",
    "k = {n}",
    "{x} = use_k()",
    "out = {{}}\nfor k in range({n}):\n    out[k] = use_k()",
    "{x} = [cached(i) for i in range({n})]",
    "cutoff = {n} * 10\n{x} = len(people.query('age > @cutoff'))",
    "{x} = risky({n})",
    "{x} = put({n})",
    "{x} = len(basket.items)",
    "added = put({n})\n{x} = len(basket.items)",
    "{x} = shout({n})",
    "res = Resource({n})",
    "del res",
    "res = Resource({n})\ndel res\nprint('dropped')",
    "with np.printoptions(precision={n}):\n    {x} = repr(arr / 3)",
    "{x} = repr(arr / 3)",
    "fh = open('@TMP@/p.txt', 'w')\nfh.write('{n}')\nfh = None",
    "{x} = open('@TMP@/p.txt').read() if os.path.exists('@TMP@/p.txt') else ''",
    "print('{x}', {x})",
    "del {x}",
)

statement = st.builds(
    lambda template, x, n: template.format(x=x, n=n),
    st.sampled_from(TEMPLATES),
    st.sampled_from(NAMES),
    st.integers(min_value=0, max_value=4),
)
cells = st.lists(statement, min_size=1, max_size=6).map(lambda lines: "\n".join(lines) + "\n")


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),  # no shrinking: each example costs real runs
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cell=cells)
def test_generated_cells_mean_the_plain_cell(
    mode_kernel: tuple[str, KernelSession], scratch: str, cell: str
) -> None:
    mode, kernel = mode_kernel
    case = Case("generated", SETUP, cell)
    plain = run(kernel, case, scratch, None)
    par = run(kernel, case, scratch, MODES[mode])
    diff = differences(plain, par)
    assert not diff, f"under {MODES[mode]}:\n{cell}---\n{summarize(diff)}"


def test_generated_cells_mix_the_kinds() -> None:
    """The grammar reaches closures, caches, iterators, views, RNGs, loops and strings.

    The draws are derandomized, so this checks the same 300 cells on every run
    (``strategy.example()`` draws from an unseeded pool and once missed a kind).
    """
    drawn: list[str] = []

    @settings(max_examples=300, derandomize=True, database=None, phases=(Phase.generate,))
    @given(cell=cells)
    def collect(cell: str) -> None:
        drawn.append(cell)

    collect()
    text = "\n".join(drawn)
    for marker in (
        "tally(",
        "cached(",
        "next(g)",
        "view",
        "random.",
        "use_k()",
        "@cutoff",
        "shout(",
        "put(",
        "del res",
        "printoptions",
        "fh = None",
    ):
        assert marker in text, marker
    assert "risky(" in text and "print(" in text
    assert sum("\n" in cell.rstrip("\n") for cell in drawn) > len(drawn) // 2, "most cells mix"
