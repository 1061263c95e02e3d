"""Which loops and comprehensions fan out into one task per element."""

import textwrap

import numpy as np

from kernel_ext.analysis import AccumulatorKind, FanOutKind, analyze_cell


def fanout(src, ns=None, index=-1):
    return analyze_cell(textwrap.dedent(src), ns).statements[index].fanout


def notebook(src):
    ns = {}
    exec(textwrap.dedent(src), ns)
    return ns


def test_loop_appending_independent_results_fans_out():
    fo = fanout(
        """
        out = []
        for x in xs:
            y = f(x)
            out.append(y * 2)
        """
    )
    assert fo is not None and fo.kind is FanOutKind.FOR_LOOP
    assert [(a.name, a.kind) for a in fo.accumulators] == [("out", AccumulatorKind.APPEND)]
    assert fo.locals_left_behind == {"x", "y"}
    assert len(fo.body) == 2 and fo.describe() == "for loop over xs"


def test_loop_filling_a_dict_or_a_set_fans_out():
    fo = fanout("d = {}\nfor k, v in items:\n    d[k] = g(v)\n")
    assert fo.accumulators[0].kind is AccumulatorKind.SETITEM
    assert fanout("s = set()\nfor x in xs:\n    s.add(h(x))\n").accumulators[0].kind is (
        AccumulatorKind.ADD
    )


def test_loop_with_carried_dependency_stays_one_task():
    assert fanout("acc = 1\nfor i in xs:\n    acc = acc * i\n") is None
    assert fanout("acc = 0\nfor i in xs:\n    acc += i\n") is None


def test_local_read_before_it_is_assigned_carries_a_dependency():
    src = "prev = 0\nout = []\nfor x in xs:\n    out.append(prev)\n    prev = x\n"
    assert fanout(src) is None


def test_local_assigned_in_only_one_branch_is_carried():
    src = "out = []\nfor x in xs:\n    if x:\n        y = x\n    out.append(y)\n"
    assert fanout(src) is None
    both = "out = []\nfor x in xs:\n    if x:\n        y = x\n    else:\n        y = 0\n"
    assert fanout(both + "    out.append(y)\n") is not None


def test_loop_with_print_break_else_or_closures_stays_one_task():
    for body in (
        "    print(x)\n",
        "    if x:\n        break\n",
        "    out.append(lambda: x)\n",
        "    def g():\n        return x\n",
        "    global z\n",
    ):
        assert fanout("out = []\nfor x in xs:\n" + body) is None, body
    assert fanout("out = []\nfor x in xs:\n    out.append(x)\nelse:\n    pass\n") is None


def test_accumulator_read_in_the_body_or_iterated_stays_one_task():
    assert fanout("out = []\nfor x in xs:\n    out.append(len(out))\n") is None
    assert fanout("out = [1]\nfor x in out:\n    out.append(x)\n") is None
    assert fanout("out = [1]\nys = out\nfor x in ys:\n    out.append(x)\n") is None


def test_accumulator_must_exist_before_the_loop():
    assert fanout("for x in xs:\n    out.append(x)\n") is None


def test_loop_changing_shared_state_stays_one_task():
    rng = np.random.default_rng(0)
    assert fanout("out = []\nfor x in xs:\n    out.append(rng.normal())\n", {"rng": rng}) is None
    assert fanout("out = []\nfor x in xs:\n    x.sort()\n    out.append(x)\n") is None


def test_fresh_local_containers_may_be_changed_in_place():
    src = "out = []\nfor x in xs:\n    row = []\n    row.append(f(x))\n    out.append(row)\n"
    assert fanout(src) is not None


def test_notebook_function_with_hidden_writes_or_effects_blocks_fan_out():
    ns = notebook("L = []\ndef bad(x):\n    L.append(x)\n    return x\n")
    assert fanout("out = []\nfor x in xs:\n    out.append(bad(x))\n", ns) is None
    ns = notebook("def loud(x):\n    print(x)\n    return x\n")
    assert fanout("r = [loud(x) for x in xs]", ns) is None


def test_notebook_function_reading_globals_still_fans_out():
    ns = notebook("k = 2\ndef f(x):\n    return x * k\n")
    assert fanout("r = [f(x) for x in xs]", ns).kind is FanOutKind.LIST_COMP


def test_comprehensions_calling_functions_fan_out():
    fo = fanout("r = [f(x) for x in xs if x > 0]")
    assert fo.kind is FanOutKind.LIST_COMP and fo.assign_target == "r"
    assert len(fo.conditions) == 1 and fo.wrapper is None
    assert fanout("r = {f(x) for x in xs}").kind is FanOutKind.SET_COMP
    fo = fanout("r = {k: f(v) for k, v in items}")
    assert fo.kind is FanOutKind.DICT_COMP and fo.value is not None


def test_generator_passed_to_a_reducing_builtin_fans_out():
    fo = fanout("total = sum(f(x) for x in xs)")
    assert fo.kind is FanOutKind.GENERATOR_CALL and fo.wrapper == "sum"
    assert fanout("ok = any(f(x) for x in xs)") is None  # short-circuits
    assert fanout("total = sum((f(x) for x in xs), 10)") is None


def test_comprehensions_that_cannot_fan_out():
    assert fanout("r = [x * 2 for x in xs]") is None  # nothing worth a task
    assert fanout("r = [f(x, y) for x in xs for y in ys]") is None
    assert fanout("r = [(last := f(x)) for x in xs]") is None
    assert fanout("r = [print(x) for x in xs]") is None
    assert fanout("r = [lambda: f(x) for x in xs]") is None
    assert fanout("a, b = [f(x) for x in xs]") is None


def test_fan_out_statement_keeps_its_whole_statement_edges():
    p = analyze_cell("xs = g()\nout = []\nfor x in xs:\n    out.append(f(x))\ny = out\n")
    loop = p.statements[2]
    assert loop.fanout is not None
    assert {e.before for e in loop.deps} == {0, 1}
    assert {e.before for e in p.statements[3].deps} == {2}


def test_explain_mentions_fan_out():
    text = analyze_cell("r = [f(x) for x in xs]").explain()
    assert "fan-out: list comprehension over xs" in text


def test_notebook_function_changing_an_argument_blocks_fan_out():
    ns = notebook("def add(lst, x):\n    lst.append(x)\n    return x\n")
    assert fanout("r = [add(acc, x) for x in xs]\n", ns) is None
    assert fanout("out = []\nfor x in xs:\n    y = add(acc, x)\n    out.append(y)\n", ns) is None
    assert fanout("r = [add([], x) for x in xs]\n", ns) is not None
