"""State the names of a cell do not show is ordered, and --explain says why.

Each notebook is run with ``__name__ == '__main__'``, as a kernel's cells are,
so functions and classes look exactly like ones defined in earlier cells.
"""

from __future__ import annotations

import textwrap

from plan_paths import waits

from kernel_ext.analysis import analyze_cell


def notebook(src: str) -> dict[str, object]:
    ns: dict[str, object] = {"__name__": "__main__"}
    exec(textwrap.dedent(src), ns)
    del ns["__builtins__"]
    return ns


def plan(cell: str, setup: str = ""):
    return analyze_cell(textwrap.dedent(cell), notebook(setup) if setup else {})


def notes(p, i: int) -> str:
    return "\n".join(p.statements[i].notes)


def test_closure_with_a_nonlocal_counter_is_called_in_order():
    p = plan(
        "a = tag(1)\nb = tag(2)\n",
        """
        def make():
            n = 0
            def tag(x):
                nonlocal n
                n += 1
                return (x, n)
            return tag
        tag = make()
        """,
    )
    assert waits(p, 1, 0)
    assert "a closure that changes its own state" in notes(p, 0)
    assert "a closure that changes its own state" in p.explain()


def test_closure_made_in_the_cell_is_called_in_order():
    p = plan(
        """
        def make():
            seen = []
            def add(x):
                seen.append(x)
                return len(seen)
            return add
        add = make()
        a = add(1)
        b = add(2)
        """
    )
    assert waits(p, 3, 2)


def test_mutable_default_argument_orders_calls():
    p = plan("a = remember(1)\nb = remember(2)\n",
             "def remember(x, seen=set()):\n    seen.add(x)\n    return len(seen)\n")
    assert waits(p, 1, 0)
    assert "mutable default" in notes(p, 1)


def test_mutable_default_defined_in_the_cell_orders_calls():
    p = plan("def remember(x, seen=[]):\n    seen.append(x)\n    return len(seen)\n"
             "a = remember(1)\nb = remember(2)\n")
    assert waits(p, 2, 1)


def test_global_default_is_reached_through_the_function():
    p = plan("COLUMNS.append('b')\nr = width()\n",
             "COLUMNS = ['a']\ndef width(cols=COLUMNS):\n    return len(cols)\n")
    assert waits(p, 1, 0)


def test_cached_function_and_its_cache_info_keep_order():
    p = plan(
        "v = fib(20)\nhits = fib.cache_info().hits\n",
        "import functools\n@functools.lru_cache\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    )
    assert waits(p, 1, 0)
    assert "cached function" in notes(p, 0)


def test_decorated_wrapper_is_charged_with_what_the_wrapped_function_does():
    p = plan(
        "a = record(1)\nn = len(LOG)\n",
        """
        import functools
        LOG = []
        def logged(func):
            @functools.wraps(func)
            def wrapper(*args):
                return func(*args)
            return wrapper
        @logged
        def record(x):
            LOG.append(x)
            return x
        """,
    )
    assert waits(p, 1, 0)


def test_class_state_changed_through_type_self_orders_instances():
    setup = """
        class Counter:
            created = 0
            def bump(self):
                type(self).created += 1
        a = Counter()
        b = Counter()
        """
    p = plan("a.bump()\nb.bump()\nn = Counter.created\n", setup)
    assert waits(p, 2, 0) and waits(p, 2, 1)
    assert "changes class state" in notes(p, 0)


def test_mutable_class_attribute_shared_through_self():
    setup = """
        class Registry:
            items = []
            def add(self, x):
                self.items.append(x)
        r1 = Registry()
        r2 = Registry()
        """
    p = plan("r1.add(1)\nn = len(r2.items)\n", setup)
    assert waits(p, 1, 0)


def test_property_whose_getter_changes_its_object():
    setup = """
        class Ticket:
            def __init__(self):
                self.n = 0
            @property
            def next(self):
                self.n += 1
                return self.n
        t = Ticket()
        """
    p = plan("x = t.next\ny = t.next\n", setup)
    assert waits(p, 1, 0)


def test_property_of_a_class_defined_in_the_cell():
    p = plan(
        """
        class Ticket:
            def __init__(self):
                self.n = 0
            @property
            def next(self):
                self.n += 1
                return self.n
        t = Ticket()
        x = t.next
        y = t.next
        """
    )
    assert waits(p, 3, 2)


def test_getattr_call_and_methodcaller_change_what_they_are_given():
    setup = "import operator\nitems = [3, 1]\nother = [5]\n"
    p = plan("getattr(items, 'append')(2)\nn = len(items)\nm = len(other)\n", setup)
    assert waits(p, 1, 0)
    assert not waits(p, 2, 0)
    p = plan("r = operator.methodcaller('append', 4)(items)\nn = len(items)\n", setup)
    assert waits(p, 1, 0)


def test_bound_method_stored_in_a_name_changes_its_object():
    p = plan("a = tick()\nb = next(counter)\n",
             "import itertools\ncounter = itertools.count()\ntick = counter.__next__\n")
    assert waits(p, 1, 0)
    p = plan("tick = counter.__next__\na = tick()\nb = next(counter)\n",
             "import itertools\ncounter = itertools.count()\n")
    assert waits(p, 2, 1)


def test_decorator_that_registers_into_an_object():
    p = plan(
        "@registry.add\ndef handler(x):\n    return x\nn = len(registry.items)\n",
        "class Registry:\n    def __init__(self):\n        self.items = []\n"
        "    def add(self, f):\n        self.items.append(f)\n        return f\n"
        "registry = Registry()\n",
    )
    assert waits(p, 1, 0)


def test_callbacks_in_a_container_are_charged():
    p = plan("handlers['log'](1)\nn = len(LOG)\n",
             "LOG = []\nhandlers = {'log': lambda x: LOG.append(x)}\n")
    assert waits(p, 1, 0)


def test_local_alias_of_a_global_container_in_a_function_body():
    setup = "STATE = {'log': []}\ndef log(x):\n    buf = STATE['log']\n    buf.append(x)\n"
    p = plan("log(1)\nn = len(STATE['log'])\n", setup)
    assert waits(p, 1, 0)
    p = plan("def log2(x):\n    buf = STATE['log']\n    buf.append(x)\n    return x\n"
             "a = log2(1)\nn = len(STATE['log'])\n", "STATE = {'log': []}\n")
    assert waits(p, 2, 1)


def test_generator_result_shared_by_two_statements_is_consumed_in_order():
    p = plan("g = numbers()\na = next(g)\nb = list(g)\n",
             "def numbers():\n    yield 1\n    yield 2\n")
    assert waits(p, 2, 1)


def test_loop_variable_read_by_a_helper_does_not_fan_out():
    p = plan("out = {}\nfor k in keys:\n    out[k] = scaled(data)\n",
             "k = 0\ndata = 2\nkeys = [1, 2, 3]\ndef scaled(d):\n    return d * k\n")
    assert p.statements[1].fanout is None


def test_loop_changing_its_elements_in_place_writes_the_container():
    p = plan("for row in rows:\n    row.append(0)\nn = sum(len(r) for r in rows)\n",
             "rows = [[1], [2]]\n")
    assert waits(p, 1, 0)
    p = plan("fixed = [fix(r) for r in rows]\nn = len(rows[0])\n",
             "rows = [[1], [2]]\ndef fix(row):\n    row.append(0)\n    return row\n")
    assert waits(p, 1, 0)


def test_process_wide_settings_are_barriers_with_their_reason():
    cases = {
        "os.chdir(d)\nx = open('f.txt').read()\n": "working directory",
        "sys.path.insert(0, d)\nimport helper_mod\n": "sys.path",
        "pd.set_option('display.max_rows', 5)\ns = repr(df)\n": "pandas option",
        "pd.options.display.precision = 2\ns = df.to_string()\n": "pandas option",
        "np.seterr(all='raise')\nz = arr / 0\n": "floating-point",
        "decimal.getcontext().prec = 5\nx = decimal.Decimal(1) / 3\n": "decimal context",
        "warnings.simplefilter('error')\nr = noisy()\n": "warnings filters",
        "os.environ['MODE'] = 'x'\nm = mode()\n": "environment",
    }
    setup = (
        "import os, sys, decimal, warnings\nimport numpy as np\nimport pandas as pd\n"
        "d = '.'\ndf = pd.DataFrame({'a': [1.5]})\narr = np.ones(2)\n"
        "def noisy():\n    warnings.warn('w')\n    return 1\n"
        "def mode():\n    return 0\n"
    )
    for cell, reason in cases.items():
        p = plan(cell, setup)
        assert p.statements[0].opaque, cell
        assert waits(p, 1, 0), cell
        assert reason in notes(p, 0), (cell, notes(p, 0))


def test_statements_touching_no_setting_still_run_at_once():
    p = plan("a = nap(0.1)\nb = nap(0.2)\nc = [nap(0.1) for i in range(4)]\n",
             "import time\ndef nap(s):\n    time.sleep(s)\n    return s\n")
    assert not any(s.deps for s in p.statements)
    assert p.statements[2].fanout is not None


def test_numpy_and_pandas_work_still_runs_at_once():
    # (A method call counts as a change of its object, so each statement has its own.)
    p = plan("m = arr.mean()\ns = np.sqrt(arr2)\ng = df.groupby('k').v.sum()\n"
             "c = pd.concat([df2, df2])\n",
             "import numpy as np\nimport pandas as pd\narr = np.arange(5.0)\narr2 = arr * 2\n"
             "df = pd.DataFrame({'k': [1, 1, 2], 'v': [1.0, 2.0, 3.0]})\ndf2 = df.copy()\n")
    assert not any(s.deps for s in p.statements)


def test_unknown_library_call_is_an_effect_that_may_change_its_arguments():
    p = plan("r = lib.transform(data)\nn = len(data)\nm = lib.other(3)\n",
             "import types\nlib = types.ModuleType('somelib')\nlib.transform = len\n"
             "lib.other = abs\ndata = [1]\n")
    assert waits(p, 1, 0) and waits(p, 2, 0)
    assert "cannot see through" in notes(p, 0)


def test_names_inside_query_strings_are_read():
    p = plan("cutoff = 2\nr = df.query('a > @cutoff')\ne = pd.eval('df.a + cutoff')\n",
             "import pandas as pd\ndf = pd.DataFrame({'a': [1, 3]})\n")
    assert waits(p, 1, 0) and waits(p, 2, 0)


def test_query_string_built_at_run_time_is_a_barrier():
    p = plan("q = 'a > 1'\nr = df.query(q)\n",
             "import pandas as pd\ndf = pd.DataFrame({'a': [1, 3]})\n")
    assert p.statements[1].opaque


def test_del_and_rebinding_a_finalizable_object_are_ordered_like_effects():
    p = plan("del f\nprint(open(path).read())\n",
             "path = '/dev/null'\nf = open(path)\n")
    assert p.statements[0].effect and waits(p, 1, 0)
    assert "finalizers" in notes(p, 0)
    p = plan("f = None\nprint('x')\n", "f = open('/dev/null')\n")
    assert p.statements[0].effect


def test_final_bare_call_is_ordered_after_earlier_effects_and_changes_its_arguments():
    p = plan("print('a')\nitems.append(1)\nshow(items)\n",
             "items = []\ndef show(x):\n    return x\n")
    assert waits(p, 2, 0)
    assert p.statements[2].effect


def test_random_generator_reached_through_a_default_argument():
    p = plan("a = draw()\nb = random.random()\n",
             "import random\ndef draw(r=random.random):\n    return r()\n")
    assert waits(p, 1, 0)


def test_imports_keep_their_order_with_effects():
    p = plan("sys.path.append(d)\nimport json as j2\n", "import sys\nd = '.'\n")
    assert waits(p, 1, 0)
    assert p.statements[1].effect


def test_objects_shared_with_earlier_cells_are_aliases():
    setup = (
        "import numpy as np\nouter = [[1], [2]]\nfirst = outer[0]\n"
        "arr = np.arange(10)\nview = arr[2:5]\nconfig = {'cols': ['a']}\ncols = config['cols']\n"
        "class Model:\n    pass\nm = Model()\nm.data = first\n"
    )
    p = plan("outer[0].append(9)\nn = len(first)\n", setup)
    assert waits(p, 1, 0)
    p = plan("arr[3] = -1\nv = view.sum()\n", setup)
    assert waits(p, 1, 0)
    p = plan("config['cols'].append('b')\nk = len(cols)\n", setup)
    assert waits(p, 1, 0)
    p = plan("first.append(3)\nd = len(m.data)\n", setup)
    assert waits(p, 1, 0)
    p = plan("x = len(outer)\ny = arr.sum()\n", setup)
    assert not waits(p, 1, 0)


def test_function_returning_a_generator_expression_gives_a_consumable_result():
    setup = "def evens(xs):\n    return (x for x in xs if x % 2 == 0)\nxs = list(range(10))\n"
    p = plan("g = evens(xs)\na = sum(g)\nb = list(g)\n", setup)
    assert waits(p, 2, 1)
    p = plan("def odds(xs):\n    return filter(lambda x: x % 2, xs)\n"
             "g = odds(xs)\na = sum(g)\nb = list(g)\n", setup)
    assert waits(p, 3, 2)


def test_function_attributes_are_state():
    setup = """
        import functools
        def counted(fn):
            @functools.wraps(fn)
            def wrapper(*args):
                wrapper.calls += 1
                return fn(*args)
            wrapper.calls = 0
            return wrapper
        @counted
        def double(x):
            return 2 * x
        """
    p = plan("a = double(1)\nb = double(2)\ncalls = double.calls\n", setup)
    assert waits(p, 1, 0) and waits(p, 2, 1)


def test_partial_reaches_the_values_it_holds():
    setup = ("from functools import partial\ndef collect(bucket, item):\n"
             "    bucket.append(item)\n    return len(bucket)\n"
             "errors = []\nreport = partial(collect, errors)\n")
    p = plan("n1 = report('a')\nn2 = report('b')\ntotal = len(errors)\n", setup)
    assert waits(p, 1, 0) and waits(p, 2, 1)


def test_bound_builtin_method_used_by_a_helper_changes_its_object():
    setup = ("seen = set()\nadd = seen.add\ndef process(batch):\n"
             "    for x in batch:\n        add(x)\n    return len(batch)\n")
    p = plan("n1 = process([1, 2])\nn2 = process([2, 3])\nunique = len(seen)\n", setup)
    assert waits(p, 1, 0) and waits(p, 2, 1)


def test_read_only_methods_of_arrays_and_frames_run_at_once():
    setup = ("import numpy as np\nimport pandas as pd\narr = np.arange(6.0)\n"
             "df = pd.DataFrame({'k': [1, 1, 2], 'v': [1.0, 2.0, 3.0]})\n"
             "rng = np.random.default_rng(0)\n")
    p = plan("a = df.groupby('k')['v'].sum()\nb = df.describe()\nc = arr.mean()\n"
             "d = arr.reshape(2, 3).T.copy()\n", setup)
    assert not any(s.deps for s in p.statements)
    p = plan("arr.sort()\nm = arr[0]\n", setup)
    assert waits(p, 1, 0)
    p = plan("df.sort_values('v', inplace=True)\nfirst = df.iloc[0]\n", setup)
    assert waits(p, 1, 0)
    p = plan("x = rng.normal()\ny = rng.normal()\n", setup)  # a generator has state
    assert waits(p, 1, 0)


def test_function_of_an_unknown_module_reaches_its_module_globals(tmp_path):
    (tmp_path / "helpers_for_state_test.py").write_text(
        "CALLS = []\ndef load(name):\n    CALLS.append(name)\n    return name\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        p = plan("a = load('x')\nb = load('y')\nloaded = list(CALLS)\n",
                 "from helpers_for_state_test import load, CALLS\n")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("helpers_for_state_test", None)
    assert waits(p, 1, 0) and waits(p, 2, 1)


def test_cached_property_getter_is_charged():
    setup = """
        import functools
        class Report:
            builds = 0
            def __init__(self, rows):
                self.rows = rows
            @functools.cached_property
            def totals(self):
                Report.builds += 1
                return sum(self.rows)
        rep = Report([1, 2, 3])
        """
    p = plan("t1 = rep.totals\nt2 = rep.totals\nbuilds = Report.builds\n", setup)
    assert waits(p, 1, 0) and waits(p, 2, 0)


def test_closures_sharing_a_rebound_value_keep_order_and_pure_closures_do_not():
    setup = """
        def make():
            n = 0
            def inc():
                nonlocal n
                n += 1
            def get():
                return n
            return inc, get
        inc, get = make()
        def make_adder(k):
            def add(x):
                return x + k
            return add
        add5 = make_adder(5)
        add7 = make_adder(7)
        """
    p = plan("inc()\nseen = get()\n", setup)
    assert waits(p, 1, 0)
    p = plan("r1 = add5(1)\nr2 = add7(2)\nr3 = add5(3)\n", setup)
    assert not any(s.deps for s in p.statements)


def test_reads_that_insert_are_writes():
    p = plan("g = groups['new']\nkeys = list(groups)\n",
             "from collections import defaultdict\ngroups = defaultdict(list)\n")
    assert waits(p, 1, 0)


def test_objects_with_attribute_hooks_are_not_probed_by_the_analysis():
    setup = """
        class Lazy:
            def __init__(self):
                self.loaded = []
            def __getattr__(self, name):
                self.loaded.append(name)
                return name * 2
        conf = Lazy()
        """
    ns = notebook(setup)
    analyze_cell("host = conf.host\nloaded = list(conf.loaded)\n", ns)
    assert ns["conf"].loaded == []


def test_statements_tied_to_the_kernel_thread_make_the_cell_run_there():
    p = plan("import asyncio\nloop = asyncio.get_event_loop()\nx = 1\n")
    assert p.needs_main_thread and p.statements[1].main_thread
    assert "kernel's thread" in p.explain()
    p = plan("rows = con.execute('select 1').fetchall()\n",
             "import sqlite3\ncon = sqlite3.connect(':memory:')\n")
    assert p.needs_main_thread
    assert not plan("a = 1\nb = a + 1\n").needs_main_thread


def test_chainmap_over_earlier_dicts_aliases_them():
    p = plan("overrides['x'] = 10\nx = cfg['x']\n",
             "from collections import ChainMap\noverrides = {}\ndefaults = {'x': 1}\n"
             "cfg = ChainMap(overrides, defaults)\n")
    assert waits(p, 1, 0)
