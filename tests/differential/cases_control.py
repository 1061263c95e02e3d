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
    control(
        "readme_loads_summarize",
        """
        import time
        import pandas as pd
        for n, k in [("sales", 4), ("stock", 3), ("prices", 2)]:
            pd.DataFrame({"v": range(k)}).to_csv(f"@TMP@/{n}.csv", index=False)
        def load(path):
            time.sleep(0.1)
            return pd.read_csv(path)
        def summarize(*frames):
            return [len(f) for f in frames]
        """,
        """
        sales = load("@TMP@/sales.csv")
        stock = load("@TMP@/stock.csv")
        prices = load("@TMP@/prices.csv")
        print(len(sales), len(stock))
        report = summarize(sales, stock, prices)
        report
        """,
        lambda o: out(o) == "4 3\n" and value(o, "report") == [4, 3, 2],
        independent=(1, 2, 3),
    ),
    control(
        "read_only_dataframe_methods",
        NUMERIC + "df = pd.DataFrame({'a': [3, 1, 2, 5], 'b': [1.0, 4.0, 9.0, 16.0]})\n",
        """
        desc = df.describe()
        corr = df.corr()
        top = df.nlargest(2, "a")
        n_top = len(top)
        """,
        lambda o: value(o, "n_top") == 2,
        independent=(1, 2, 3),
    ),
    control(
        "comprehension_over_columns",
        NUMERIC
        + """
df = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0], "c": [0.0, 1.0]})
def col_stats(s):
    time.sleep(0.05)
    return (float(s.mean()), float(s.max()))
""",
        """
        stats = {c: col_stats(df[c]) for c in df.columns}
        """,
        lambda o: value(o, "stats")["b"] == (4.0, 5.0),
        fanout=(1,),
    ),
    control(
        "separate_generators_draw_independently",
        NUMERIC,
        """
        rng1 = np.random.default_rng(1)
        rng2 = np.random.default_rng(2)
        a = rng1.normal(size=3)
        b = rng2.normal(size=3)
        """,
        lambda o: len(value(o, "a")) == 3,
        independent=(1, 2),
    ),
    control(
        "numpy_linear_algebra",
        NUMERIC
        + """
m = np.array([[2.0, 1.0], [1.0, 3.0]])
x = np.linspace(0, 1, 8)
""",
        """
        inv = np.linalg.inv(m)
        spectrum = np.abs(np.fft.fft(x)).round(6)
        det = float(np.linalg.det(m))
        """,
        lambda o: round(value(o, "det"), 6) == 5.0,
        independent=(1, 2, 3),
    ),
    control(
        "string_methods_on_one_text",
        NUMERIC + "text = 'The Quick brown fox jumps'\n",
        """
        words = text.split()
        upper = text.upper()
        n_o = text.count("o")
        """,
        lambda o: value(o, "n_o") == 2,
        independent=(1, 2, 3),
    ),
    control(
        "fan_out_loads_of_files",
        """
        import time
        import pandas as pd
        names = ["a", "b", "c"]
        for i, n in enumerate(names):
            pd.DataFrame({"x": range(i + 1)}).to_csv(f"@TMP@/{n}.csv", index=False)
        def load(n):
            time.sleep(0.05)
            return pd.read_csv(f"@TMP@/{n}.csv")
        """,
        """
        frames = [load(n) for n in names]
        sizes = [len(f) for f in frames]
        """,
        lambda o: value(o, "sizes") == [1, 2, 3],
        fanout=(1,),
    ),
    control(
        "json_parsing_of_strings",
        NUMERIC + "import json\nraw1 = '{\"a\": 1}'\nraw2 = '[1, 2, 3]'\n",
        """
        d1 = json.loads(raw1)
        d2 = json.loads(raw2)
        both = (d1["a"], sum(d2))
        """,
        lambda o: value(o, "both") == (1, 6),
        independent=(1, 2),
    ),
]
