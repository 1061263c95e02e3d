"""Control group: cells that touch no hidden state and must STILL run in parallel.

Besides meaning what the plain cell means, ``--explain`` must show the listed lines
running independently and the listed loops fanning out."""

from __future__ import annotations

from differential import control, out, value

KIND = "control"

WORK = """
import time
def work(x):
    time.sleep(0.05)
    return x * x
def load(name):
    time.sleep(0.1)
    return f"{name}:{len(name)}"
"""

NUMERIC = """
import time
import numpy as np
import pandas as pd
def heavy(a):
    time.sleep(0.05)
    return float(np.sqrt((a ** 2).sum()))
def score(name):
    time.sleep(0.05)
    return sum(ord(c) for c in name) % 97
def mean(xs):
    time.sleep(0.05)
    return sum(xs) / len(xs)
def spread(xs):
    time.sleep(0.05)
    return max(xs) - min(xs)
def tokenize(text):
    time.sleep(0.05)
    return text.lower().split()
def make_adder(n):
    def add(x):
        time.sleep(0.05)
        return x + n
    return add
"""

CASES = [
    control(
        "three_independent_loads",
        WORK,
        """
        a = load("sales")
        b = load("stock")
        c = load("prices")
        print(a, b, c)
        """,
        lambda o: out(o) == "sales:5 stock:5 prices:6\n",
        independent=(1, 2, 3),
    ),
    control(
        "independent_numpy_arrays",
        NUMERIC,
        """
        x = np.arange(10)
        y = np.linspace(0, 1, 5)
        z = np.ones((2, 2))
        total = float(x.sum() + y.sum() + z.sum())
        """,
        lambda o: value(o, "total") == 51.5,
        independent=(1, 2, 3),
    ),
    control(
        "independent_pandas_objects",
        NUMERIC,
        """
        s1 = pd.Series([1, 2, 3])
        s2 = pd.Series([4, 5])
        frame = pd.DataFrame({"a": [1], "b": [2]})
        n = len(s1) + len(s2) + len(frame)
        """,
        lambda o: value(o, "n") == 6,
        independent=(1, 2, 3),
    ),
    control(
        "list_comprehension_fans_out",
        WORK,
        """
        squares = [work(i) for i in range(6)]
        """,
        lambda o: value(o, "squares") == [0, 1, 4, 9, 16, 25],
        independent=(1,),
        fanout=(1,),
    ),
    control(
        "for_loop_append_fans_out",
        WORK,
        """
        out = []
        for i in range(6):
            out.append(work(i))
        """,
        lambda o: value(o, "out") == [0, 1, 4, 9, 16, 25],
        fanout=(2,),
    ),
    control(
        "dict_comprehension_fans_out",
        NUMERIC,
        """
        names = ["ann", "bob", "cy", "dee"]
        scores = {name: score(name) for name in names}
        """,
        lambda o: len(value(o, "scores")) == 4,
        fanout=(2,),
    ),
    control(
        "sum_of_generator_fans_out",
        WORK,
        """
        total = sum(work(i) for i in range(5))
        """,
        lambda o: value(o, "total") == 30,
        fanout=(1,),
    ),
    control(
        "loop_filling_dict_fans_out",
        WORK,
        """
        keys = [2, 3, 4]
        res = {}
        for k in keys:
            res[k] = work(k)
        """,
        lambda o: value(o, "res") == {2: 4, 3: 9, 4: 16},
        fanout=(3,),
    ),
    control(
        "pure_helpers_on_shared_input",
        NUMERIC + "data = [3, 9, 4, 1]\n",
        """
        m = mean(data)
        r = spread(data)
        toks = tokenize("The quick brown fox")
        """,
        lambda o: (value(o, "m"), value(o, "r")) == (4.25, 8),
        independent=(1, 2, 3),
    ),
    control(
        "independent_statements_then_print",
        WORK,
        """
        a = work(3)
        b = work(4)
        print(a + b)
        """,
        lambda o: out(o) == "25\n",
        independent=(1, 2),
    ),
    control(
        "sorted_generator_fans_out",
        NUMERIC,
        """
        ranked = sorted(score(n) for n in ["zed", "amy", "kim", "lou"])
        """,
        lambda o: len(value(o, "ranked")) == 4,
        fanout=(1,),
    ),
    control(
        "set_comprehension_fans_out",
        WORK,
        """
        residues = {work(i) % 5 for i in range(6)}
        """,
        lambda o: value(o, "residues") == {0, 1, 4},
        fanout=(1,),
    ),
    control(
        "two_loops_fan_out_independently",
        WORK,
        """
        evens, odds = [], []
        for i in range(0, 6, 2):
            evens.append(work(i))
        for j in range(1, 6, 2):
            odds.append(work(j))
        """,
        lambda o: value(o, "odds") == [1, 9, 25],
        fanout=(2, 4),
    ),
    control(
        "heavy_numpy_helpers",
        NUMERIC,
        """
        v1 = np.arange(1000.0)
        v2 = np.linspace(0, 1, 1000)
        n1 = heavy(v1)
        n2 = heavy(v2)
        """,
        lambda o: value(o, "n1") > value(o, "n2"),
        independent=(1, 2),
    ),
    control(
        "text_processing_helpers",
        NUMERIC,
        """
        t1 = tokenize("Data Science Rocks")
        t2 = tokenize("Parallel cells are Fast")
        vocab = sorted(set(t1) | set(t2))
        """,
        lambda o: len(value(o, "vocab")) == 7,
        independent=(1, 2),
    ),
    control(
        "pure_closures_still_parallel",
        NUMERIC + "add5 = make_adder(5)\nadd7 = make_adder(7)\n",
        """
        r1 = add5(1)
        r2 = add7(2)
        r3 = add5(10)
        """,
        lambda o: (value(o, "r1"), value(o, "r2"), value(o, "r3")) == (6, 9, 15),
        independent=(1, 2, 3),
    ),
    control(
        "pandas_aggregations_of_one_frame",
        NUMERIC
        + "sales = pd.DataFrame({'region': ['n', 's', 'n'], 'm': [1, 1, 2], 'v': [3, 4, 5]})\n",
        """
        by_region = sales.groupby("region")["v"].sum()
        by_month = sales.groupby("m")["v"].mean()
        top = by_region.idxmax()
        """,
        lambda o: value(o, "top") == "n",
        independent=(1, 2),
    ),
    control(
        "loop_with_local_temporaries_fans_out",
        WORK,
        """
        out = {}
        for name in ["a", "bb", "ccc"]:
            n = len(name)
            out[name] = work(n)
        """,
        lambda o: value(o, "out") == {"a": 1, "bb": 4, "ccc": 9},
        fanout=(2,),
    ),
]
