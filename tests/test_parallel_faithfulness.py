"""``%%parallel`` cells mean exactly what the plain cells mean, in a real kernel.

Each case runs twice in a fresh namespace of the same kernel: once as a plain
cell and once under ``%%parallel``. Both runs must leave the same names
(canonical JSON, with object identity between names), the same global random
state and working directory, the same files, the same stdout/stderr text, the
same displays and results (data, not ``Out[n]`` numbers), and the same error:
type, message, and the line of the innermost ``Cell In[n], line k`` frame.
"""

from __future__ import annotations

from typing import Any

import pytest
from kernel_session import KernelSession
from plain_vs_parallel import Case, compare_plain_and_parallel, names

CASES: list[Case] = [
    Case(
        "independent_assignments",
        "",
        "a = 1\nb = 'x' * 3\nc = [1, 2]\nd = {'k': a}\n",
        check=lambda o: names(o)["b"] == "xxx",
    ),
    Case(
        "chain",
        "",
        "a = 2\nb = a * 3\nc = b + a\nd = [a, b, c]\n",
        check=lambda o: names(o)["c"] == 8,
    ),
    Case(
        "tuple_starred_swap",
        "",
        "a, b = 1, 2\n(c, d), e = (3, 4), 5\nfirst, *rest = [1, 2, 3, 4]\na, b = b, a\n"
        "*init, last = rest\n",
        check=lambda o: names(o)["a"] == 2 and names(o)["b"] == 1,
    ),
    Case(
        "augmented_assignment_and_aliases",
        "a = 1\ns = 'x'\nL = [1]\n",
        "a += 1\ns *= 3\nL += [2]\nM = L\nM += [3]\na -= 5\nn = len(L)\n",
        check=lambda o: names(o)["n"] == 3,
    ),
    Case(
        "annotated_assignment",
        "",
        "x: int = 5\ny: list[int]\nz: float = x / 2\nann = sorted(__annotations__)\n",
    ),
    Case(
        "delete_names_and_items",
        "a = 1\nb = [1, 2, 3]\nc = 3\n",
        "del a\nd = c + 1\ndel b[0]\ndel c\nc = 'again'\nx = 1\ndel x\n",
    ),
    Case(
        "imports_with_aliases",
        "",
        "import math\nimport os.path\nimport collections as col\n"
        "from functools import reduce as red\nr = red(lambda x, y: x * y, [1, 2, 3, 4])\n"
        "v = math.sqrt(16) + col.Counter('aab')['a']\np = os.path.join('a', 'b')\n",
        check=lambda o: names(o)["r"] == 24,
    ),
    Case(
        "def_and_call",
        "",
        "def sq(x):\n    return x * x\n\ndef add(a, b):\n    return a + b\n\n"
        "s = sq(4)\nt = add(s, sq(2))\n",
        check=lambda o: names(o)["t"] == 20,
    ),
    Case(
        "class_and_attributes",
        "",
        "class Point:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n"
        "    def norm2(self):\n        return self.x ** 2 + self.y ** 2\n\n"
        "p = Point(3, 4)\nn = p.norm2()\np.x = 10\nm = p.norm2()\n",
        check=lambda o: names(o)["n"] == 25 and names(o)["m"] == 116,
    ),
    Case(
        "closures",
        "",
        "def make_adder(n):\n    def add(x):\n        return x + n\n    return add\n\n"
        "add2 = make_adder(2)\nadd5 = make_adder(5)\nr = [add2(1), add5(1)]\n",
    ),
    Case(
        "global_writes_from_notebook_function",
        "counter = 0\ndef bump(k):\n    global counter\n    counter += k\n    return counter\n",
        "a = bump(1)\nb = bump(10)\nc = counter\nd = bump(100)\n",
        check=lambda o: names(o)["c"] == 11 and names(o)["d"] == 111,
    ),
    Case(
        "hidden_reads_through_setup_function",
        "k = 1\ndef f(x):\n    return x + k\n",
        "k = 10\nr1 = f(1)\nk = 20\nr2 = f(1)\n",
        check=lambda o: (names(o)["r1"], names(o)["r2"]) == (11, 21),
    ),
    Case(
        "hidden_reads_through_cell_function",
        "",
        "scale = 2\ndef g(x):\n    return x * scale\nr1 = g(3)\nscale = 5\nr2 = g(3)\n",
    ),
    Case(
        "mutation_through_alias",
        "a = [1, 2]\n",
        "b = a\nb.append(3)\nn = len(a)\nc = list(a)\na.append(4)\nm = len(b)\n",
        check=lambda o: (names(o)["n"], names(o)["m"]) == (3, 4),
    ),
    Case(
        "mutating_method_calls",
        "L = []\nD = {}\nS = set()\n",
        "L.append(1)\nD.update(x=1)\nS.add(3)\nsnap = (list(L), dict(D), set(S))\n"
        "L.extend([2, 3])\nD['y'] = len(L)\nS.discard(3)\n",
    ),
    Case(
        "attribute_and_item_stores",
        "class Box:\n    pass\nbox = Box()\narr = [0, 0, 0]\nd = {'a': 1}\n",
        "box.v = 1\nw = box.v + 1\narr[1] = w\ndel d['a']\nkeys = list(d)\n"
        "box.v = arr[1] * 10\nd['b'] = box.v\n",
    ),
    Case(
        "random_seed",
        "",
        "import random\nrandom.seed(1)\na = random.random()\nb = random.random()\n"
        "c = random.randint(0, 100)\n",
    ),
    Case(
        "random_unseeded_draws_share_the_global_state",
        "import random\n",
        "a = random.random()\nb = random.random()\nc = [random.random() for _ in range(3)]\n",
    ),
    Case(
        "numpy_legacy_seed",
        "",
        "import numpy as np\nnp.random.seed(0)\nx = np.random.rand(3)\ny = np.random.rand(2)\n"
        "z = float(x.sum() + y.sum())\n",
    ),
    Case(
        "numpy_default_rng",
        "",
        "import numpy as np\nrng = np.random.default_rng(0)\na = rng.normal()\nb = rng.normal()\n"
        "c = rng.integers(0, 10, size=4)\n",
    ),
    Case(
        "pandas_columns_groupby_inplace",
        "import pandas as pd\n",
        "df = pd.DataFrame({'g': ['a', 'b', 'a', 'b'], 'v': [1, 2, 3, 4]})\n"
        "df['w'] = df['v'] * 2\ntotals = df.groupby('g')['w'].sum()\n"
        "df.drop(columns=['v'], inplace=True)\ncols = list(df.columns)\n"
        "df['c'] = df['w'] + 1\nn = len(df)\n",
        check=lambda o: names(o)["cols"] == ["list", ["g", "w"]],
    ),
    Case(
        "pandas_alias_and_inplace",
        "import pandas as pd\ndf = pd.DataFrame({'x': [1, 2, 3]})\n",
        "view = df\nbefore = df['x'].sum()\nview['y'] = view['x'] * 10\n"
        "view.drop(index=[0], inplace=True)\nafter = df['y'].sum()\nrows = len(df)\n",
    ),
    Case(
        "print_interleaved_with_computation",
        "",
        "print('start')\na = sum(range(10))\nprint('a =', a)\nb = [i * i for i in range(5)]\n"
        "print('b =', b)\nimport sys\nprint('to stderr', file=sys.stderr)\nprint('end')\n",
        check=lambda o: o["stdout"].startswith("start\na = 45\n"),
    ),
    Case(
        "prints_from_concurrent_statements_keep_order",
        "import time\ndef slow(tag, d):\n    time.sleep(d)\n"
        "    print(tag, 'done')\n    return tag\n",
        "a = slow('a', 0.2)\nb = slow('b', 0.05)\nc = slow('c', 0.1)\nprint('all', a, b, c)\n",
        check=lambda o: o["stdout"] == "a done\nb done\nc done\nall a b c\n",
    ),
    Case(
        "display_calls",
        "",
        "from IPython.display import display, Markdown\ndisplay('first')\nx = 41 + 1\n"
        "display(x)\ndisplay(Markdown('**bold**'))\nprint('after')\n",
        check=lambda o: len(o["outputs"]) == 4,
    ),
    Case(
        "file_write_then_read_then_remove",
        "",
        "path = '@TMP@/data.txt'\nwith open(path, 'w') as fh:\n    fh.write('hello\\n')\n"
        "with open(path) as fh:\n    content = fh.read()\nimport os\nos.remove(path)\n"
        "exists = os.path.exists(path)\n",
        check=lambda o: names(o)["content"] == "hello\n",
    ),
    Case(
        "file_effects_through_setup_functions",
        "def save(p, text):\n    with open(p, 'w') as f:\n        f.write(text)\n"
        "def load(p):\n    with open(p) as f:\n        return f.read()\n",
        "save('@TMP@/a.txt', 'one')\nfirst = load('@TMP@/a.txt')\nsave('@TMP@/a.txt', 'two')\n"
        "second = load('@TMP@/a.txt')\nsave('@TMP@/b.txt', first + second)\n",
        check=lambda o: o["files"] == {"a.txt": "two", "b.txt": "onetwo"},
    ),
    Case(
        "walrus",
        "",
        "data = [3, 1, 4, 1, 5]\nif (n := len(data)) > 3:\n    big = True\n"
        "total = sum(y := [d * 2 for d in data])\nm = n + 1\n",
    ),
    Case(
        "comprehensions_fan_out",
        "import time\ndef work(x):\n    time.sleep(0.02)\n    return x * x\n",
        "sq = [work(i) for i in range(8)]\nst = {work(i) % 5 for i in range(6)}\n"
        "dc = {i: work(i) for i in range(5)}\ntotal = sum(work(i) for i in range(6))\n",
        check=lambda o: names(o)["total"] == 55,
    ),
    Case(
        "for_loop_appending_fan_out",
        "import time\ndef work(x):\n    time.sleep(0.02)\n    return x * x\n",
        "out = []\nfor i in range(8):\n    y = work(i)\n    out.append(y)\nlast = i\n",
        check=lambda o: names(o)["out"] == ["list", [i * i for i in range(8)]],
    ),
    Case(
        "for_loop_carried_dependency",
        "",
        "acc = 1\nfor i in range(1, 8):\n    acc = acc * i\nres = acc\n",
        check=lambda o: names(o)["res"] == 5040,
    ),
    Case(
        "for_loop_with_break",
        "import time\ndef work(x):\n    time.sleep(0.01)\n    return x * x\n",
        "found = None\nfor i in range(100):\n    if work(i) > 20:\n"
        "        found = i\n        break\n"
        "after = i\n",
        check=lambda o: names(o)["found"] == 5,
    ),
    Case(
        "for_loop_printing",
        "import time\ndef work(x):\n    time.sleep(0.01)\n    return x * x\n",
        "for i in range(4):\n    print('item', work(i))\nprint('done')\n",
        check=lambda o: o["stdout"] == "item 0\nitem 1\nitem 4\nitem 9\ndone\n",
    ),
    Case(
        "for_loop_dict_items_rewrite",
        "d = {'a': 1, 'b': 2}\n",
        "for k, v in d.items():\n    d[k] = v * 10\nkeys = list(d)\n",
    ),
    Case(
        "while_loop",
        "",
        "n = 27\nsteps = 0\nwhile n != 1:\n    n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
        "    steps += 1\n",
    ),
    Case(
        "with_statements_and_context_managers",
        "import contextlib\nlog = []\n@contextlib.contextmanager\ndef tag(name):\n"
        "    log.append('enter ' + name)\n    yield name\n    log.append('exit ' + name)\n",
        "with tag('a') as t1:\n    x = t1 * 2\nwith tag('b') as t2:\n    y = t2 * 3\n"
        "snap = list(log)\n",
        check=lambda o: len(names(o)["snap"][1]) == 4,
    ),
    Case(
        "try_except_inside_cell",
        "",
        "try:\n    r = 1 / 0\nexcept ZeroDivisionError as e:\n    msg = str(e)\n"
        "try:\n    v = int('12')\nexcept ValueError:\n    v = -1\nelse:\n    v += 1\n"
        "finally:\n    done = True\n",
    ),
    Case(
        "error_midway_third_of_six",
        "import time\ndef slow(x, d=0.05):\n    time.sleep(d)\n    return x\nc = 'old'\n",
        "a = slow(1)\nprint('a done')\nb = 1 / 0\nc = slow(3)\nprint('c done')\nd = slow(4, 0)\n",
        check=lambda o: o["error"][0] == "ZeroDivisionError" and o["stdout"] == "a done\n",
    ),
    Case(
        "error_midway_independent_later_statements",
        "import time\ndef slow(x, d=0.05):\n    time.sleep(d)\n    return x\n",
        "x = slow(1, 0.2)\ny = int('not a number')\nz = 5\nw = slow(2, 0)\nprint('w', w)\n",
        check=lambda o: o["error"][0] == "ValueError" and "x" in names(o),
    ),
    Case(
        "error_in_loop_body_midway",
        "",
        "out = []\nfor i in range(6):\n    print('i', i)\n    out.append(10 / (3 - i))\n"
        "after = 1\n",
        check=lambda o: o["error"][0] == "ZeroDivisionError" and len(names(o)["out"][1]) == 3,
    ),
    Case(
        "error_in_comprehension_midway",
        "done = False\n",
        "vals = [10 // (2 - i) for i in range(5)]\ndone = True\n",
    ),
    Case(
        "error_inside_setup_function",
        "def risky(x):\n    if x > 2:\n        raise ValueError(f'bad {x}')\n    return x\n",
        "a = risky(1)\nb = risky(2)\nc = risky(3)\nd = risky(0)\n",
        check=lambda o: o["error"][:2] == ("ValueError", "bad 3"),
    ),
    Case(
        "error_after_partial_output",
        "",
        "print('before')\ndef boom():\n    print('in boom')\n    raise RuntimeError('boom')\n"
        "x = boom()\nprint('never')\n",
        check=lambda o: o["stdout"] == "before\nin boom\n",
    ),
    Case(
        "syntax_error",
        "a0 = 0\n",
        "a = 1\nb = (2 +\nc = 3\n",
        check=lambda o: o["error"][0] == "SyntaxError",
    ),
    Case(
        "name_error",
        "",
        "a = 1\nb = undefined_name + 1\nc = 3\n",
        check=lambda o: o["error"][0] == "NameError" and o["error"][2] == ("this", 2),
    ),
    Case(
        "final_expression_value",
        "",
        "a = [1, 2, 3]\nb = sum(a)\nb * 2\n",
        check=lambda o: o["results"] == [{"text/plain": "12"}],
    ),
    Case(
        "final_expression_with_semicolon",
        "",
        "a = 5\na * 2;\n",
        check=lambda o: o["results"] == [] and names(o)["a"] == 5,
    ),
    Case(
        "final_dataframe_display",
        "import pandas as pd\n",
        "df = pd.DataFrame({'x': [1, 2]})\ndf['y'] = df.x * 3\ndf\n",
        check=lambda o: "text/html" in o["results"][0],
    ),
    Case(
        "shell_escapes",
        "",
        "!echo hi\nx = !echo there\ny = x[0].upper()\n",
        check=lambda o: o["stdout"].replace("\r\n", "\n") == "hi\n" and names(o)["y"] == "THERE",
    ),
    Case(
        "time_line_magic_inside_cell",
        "",
        "a = 2\n%time z = sum(range(1000)) + a\nw = z + 1\n",
        check=lambda o: names(o)["w"] == 499503,
    ),
    Case(
        "exec_eval_globals",
        "",
        "exec('q = 5')\nr = eval('q * 2')\nglobals()['s'] = r + 1\nt = s + 1\n",
        check=lambda o: names(o)["t"] == 12,
    ),
    Case(
        "setup_function_reads_mutated_global",
        "data = [1, 2, 3]\ndef total():\n    return sum(data)\n",
        "t1 = total()\ndata.append(4)\nt2 = total()\ndata = [10]\nt3 = total()\n",
        check=lambda o: [names(o)[k] for k in ("t1", "t2", "t3")] == [6, 10, 10],
    ),
    Case(
        "iterator_consumption",
        "",
        "it = iter(range(5))\na = next(it)\nb = list(it)\nc = next(iter([9]))\n",
    ),
    Case(
        "lambdas_with_defaults",
        "",
        "fs = [lambda x, i=i: x + i for i in range(3)]\nr = [f(10) for f in fs]\n",
    ),
    Case(
        "decorated_recursive_function",
        "",
        "import functools\n@functools.lru_cache\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
        "v = fib(20)\nhits = fib.cache_info().hits\n",
    ),
    Case(
        "class_attribute_mutation",
        "",
        "class Registry:\n    items = []\nRegistry.items.append(1)\nr = Registry()\n"
        "r.items.append(2)\nn = len(Registry.items)\n",
    ),
    Case(
        "mutation_through_function_argument",
        "def add_item(lst, x):\n    lst.append(x)\n",
        "items = []\nadd_item(items, 1)\ncount = len(items)\nadd_item(items, 2)\n"
        "count2 = len(items)\n",
        check=lambda o: (names(o)["count"], names(o)["count2"]) == (1, 2),
    ),
    Case(
        "chdir_and_back",
        "",
        "import os\nold = os.getcwd()\nos.chdir('@TMP@')\nhere = os.path.basename(os.getcwd())\n"
        "os.chdir(old)\nback = os.getcwd() == old\n",
    ),
    Case(
        "setup_function_mutates_its_argument",
        "import time\ndef add(lst, x):\n    time.sleep(0.2)\n"
        "    lst.append(x)\n    return len(lst)\n"
        "c = []\n",
        "z = add(c, 1)\nn = len(c)\n",
        check=lambda o: names(o)["n"] == 1,
    ),
    Case(
        "in_place_change_after_a_failing_statement",
        "b = [1]\nc = [0]\n",
        "a = b + 1\nc.append(b)\nc[0] = 5\n",
        check=lambda o: names(o)["c"] == ["list", [0]],
    ),
    Case(
        "top_level_await",
        "import asyncio\n",
        "x = 1\nawait asyncio.sleep(0.01)\ny = x + 1\n",
        check=lambda o: names(o)["y"] == 2,
    ),
    Case(
        "stderr_writes",
        "import sys\n",
        "sys.stderr.write('e1\\n')\nprint('o1')\nsys.stderr.write('e2\\n')\nv = 3\n",
    ),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_parallel_cell_means_the_plain_cell(
    kernel: KernelSession, case: Case, tmp_path: Any
) -> None:
    tmp_dir = str(tmp_path / "files")
    plain, _ = compare_plain_and_parallel(kernel, case.setup, case.cell, tmp_dir)
    # Guard against vacuous passes: the plain run must have done something observable.
    assert plain["namespace"]["names"] or plain["stdout"] or plain["error"] or plain["outputs"]
    if case.check is not None:
        assert case.check(plain), f"sanity check failed on the plain run: {plain}"


def test_case_ids_are_unique_and_numerous() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 40
