"""A worker reuses the iteration function it loaded only when a fresh load could not differ.

The functions here are built as the notebook builds them (defined in ``__main__``,
so they travel by value) and pickled as the kernel pickles them; the worker-side
``load_iteration`` runs in this process, as a worker runs it.
"""

from __future__ import annotations

from kernel_ext.cell import transport
from kernel_ext.cell.iteration_reuse import load_iteration


def notebook(source: str, name: str = "step") -> bytes:
    """Pickle function ``name`` defined by ``source`` as a notebook cell defines it."""
    namespace: dict = {"__name__": "__main__"}
    exec(compile(source, "<cell>", "exec"), namespace)  # noqa: S102 - the test's own code
    return transport.dumps(namespace[name])


PURE = """
import math
SCALE = 3
NAMES = ('a', 'b')
def helper(x, power=2):
    return math.sqrt(x) ** power * SCALE
def step(i):
    return helper(i), NAMES[i % 2]
"""


def test_an_inert_function_is_reused_and_still_computes_the_same():
    blob = notebook(PURE)
    first = load_iteration(blob)
    assert load_iteration(blob) is first
    assert first(4) == (12.0, "a")


def test_another_function_loads_afresh_and_the_same_bytes_again_reuse_it():
    """The next batch brings its own copy of the same pickle: equal bytes, same function."""
    first = load_iteration(notebook(PURE))
    again = load_iteration(notebook(PURE))
    assert again is first
    other = load_iteration(notebook(PURE.replace("SCALE = 3", "SCALE = 4")))
    assert other is not first
    assert other(4) == (16.0, "a")


def test_a_mutable_global_loads_afresh_every_time():
    blob = notebook("seen = []\ndef step(i):\n    seen.append(i)\n    return len(seen)\n")
    first = load_iteration(blob)
    assert first(1) == 1
    second = load_iteration(blob)
    assert second is not first
    assert second(2) == 1  # the kernel's empty list, not the last iteration's


def test_a_mutable_default_loads_afresh():
    blob = notebook("def step(i, cache={}):\n    cache[i] = i\n    return len(cache)\n")
    assert load_iteration(blob)(1) == 1
    assert load_iteration(blob)(2) == 1


def test_a_global_rebound_by_an_iteration_is_not_seen_by_the_next():
    blob = notebook("COUNT = 0\ndef step(i):\n    global COUNT\n    COUNT += 1\n"
                    "    return COUNT\n")
    assert load_iteration(blob)(0) == 1
    assert load_iteration(blob)(0) == 1
    for _ in range(3):
        assert load_iteration(blob)(0) == 1


def test_a_rebinding_to_an_equal_value_of_another_identity_loads_afresh():
    blob = notebook("X = 10 ** 30\ndef step(i):\n    global X\n    X = int(str(X))\n"
                    "    return X\n")
    first = load_iteration(blob)
    first(0)
    assert load_iteration(blob) is not first


def test_new_defaults_or_attributes_load_afresh():
    blob = notebook(PURE)
    first = load_iteration(blob)
    first.__globals__["helper"].__defaults__ = (3,)
    assert load_iteration(blob) is not first
    second = load_iteration(blob)
    assert second(4) == (12.0, "a")
    second.__globals__["helper"].calls = 1
    assert load_iteration(blob) is not second


def test_a_closure_cell_rebound_loads_afresh():
    blob = notebook("def make():\n    total = 0\n    def step(i):\n        nonlocal total\n"
                    "        total += i\n        return total\n    return step\nstep = make()\n")
    assert load_iteration(blob)(5) == 5
    assert load_iteration(blob)(5) == 5


def test_a_bound_method_of_an_object_is_not_inert():
    blob = notebook("import random\nr = random.Random(1)\ndraw = r.random\n"
                    "def step(i):\n    return draw()\n")
    first = load_iteration(blob)
    value = first(0)
    assert load_iteration(blob) is not first
    assert load_iteration(blob)(0) == value  # the kernel's generator state each time


def test_a_reused_function_still_sees_it_change_a_module_of_the_users(tmp_path, monkeypatch):
    """Which user modules an iteration reaches is worked out once for a reused function;
    every iteration that changes one still goes back to the kernel, and one that leaves
    them alone still comes back from the worker."""
    import importlib

    from kernel_ext.cell.fanout_worker import ShippedIteration
    from kernel_ext.cell.worker_run import Bound, RunInKernel

    (tmp_path / "kx_reuse_tally.py").write_text(
        "CALLS = []\ndef load(name):\n    CALLS.append(name)\n    return name.upper()\n"
        "def peek(name):\n    return len(CALLS), name\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    tally = importlib.import_module("kx_reuse_tally")
    namespace: dict = {"__name__": "__main__", "load": tally.load, "peek": tally.peek}
    exec("def step(item):\n    return load(item)\ndef look(item):\n    return peek(item)\n",  # noqa: S102
         namespace)
    step = ShippedIteration(transport.dumps(namespace["step"]), (), frozenset(), False, None)
    changing = [step(transport.dumps(name)) for name in "abc"]
    assert all(isinstance(o, RunInKernel) and "module of yours" in o.reason
               for o in changing), changing
    look = ShippedIteration(transport.dumps(namespace["look"]), (), frozenset(), False, None)
    leaving = [look(transport.dumps(name)) for name in "xy"]
    assert all(isinstance(o, Bound) for o in leaving), leaving
    assert [transport.loads(o.values)[0] for o in leaving] == [(3, "x"), (3, "y")]
