"""The loop's own variable, read as a global by a helper the loop body calls."""

from __future__ import annotations

from differential import case, value

KIND = "loopvar"

CASES = [
    case(
        "helper_reads_multiplier",
        """
        import time
        data = [1, 2, 3, 4]
        def scaled(values):
            time.sleep(0.02)
            return [v * k for v in values]
        """,
        """
        out = {}
        for k in [1, 10, 100]:
            out[k] = scaled(data)
        """,
        lambda o: value(o, "out")[100] == [100, 200, 300, 400],
    ),
    case(
        "helper_reads_column_name",
        """
        import time
        import pandas as pd
        df = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5, 6]})
        def col_mean():
            time.sleep(0.02)
            return float(df[col].mean())
        """,
        """
        means = {}
        for col in df.columns:
            means[col] = col_mean()
        """,
        lambda o: value(o, "means") == {"a": 1.5, "b": 3.5, "c": 5.5},
    ),
    case(
        "helper_builds_label_from_index",
        """
        import time
        def label():
            time.sleep(0.01)
            return f"run-{i}"
        """,
        """
        labels = []
        for i in range(4):
            labels.append(label())
        """,
        lambda o: value(o, "labels") == ["run-0", "run-1", "run-2", "run-3"],
    ),
    case(
        "comprehension_helper_reads_outer_global",
        """
        import time
        x = 5
        def plus_x(v):
            time.sleep(0.01)
            return v + x
        """,
        """
        vals = [plus_x(x) for x in range(3)]
        """,
        lambda o: value(o, "vals") == [5, 6, 7],
    ),
    case(
        "unpacked_loop_targets_read_by_helper",
        """
        import time
        prices = {"tea": 4.0, "cake": 3.0}
        def apply():
            time.sleep(0.02)
            return round(prices[name] * factor, 2)
        settings = {"tea": 1.1, "cake": 0.5}
        """,
        """
        adjusted = {}
        for name, factor in settings.items():
            adjusted[name] = apply()
        """,
        lambda o: value(o, "adjusted") == {"tea": 4.4, "cake": 1.5},
    ),
    case(
        "helper_reads_year",
        """
        import time
        sales = {2021: [3, 4], 2022: [5, 6, 7], 2023: [1]}
        def yearly_total():
            time.sleep(0.02)
            return sum(sales[year])
        """,
        """
        totals = {}
        for year in sales:
            totals[year] = yearly_total()
        """,
        lambda o: value(o, "totals") == {2021: 7, 2022: 18, 2023: 1},
    ),
    case(
        "helper_seeds_generator_from_loop_variable",
        """
        import numpy as np
        def sample():
            rng = np.random.default_rng(seed)
            return float(rng.integers(0, 1000))
        """,
        """
        draws = {}
        for seed in range(3):
            draws[seed] = sample()
        """,
        lambda o: len(set(value(o, "draws").values())) == 3,
    ),
    case(
        "lambda_reads_loop_variable",
        """
        fmt = lambda: f"{name.title()}!"
        """,
        """
        greetings = []
        for name in ["ann", "bob", "cy"]:
            greetings.append(fmt())
        """,
        lambda o: value(o, "greetings") == ["Ann!", "Bob!", "Cy!"],
    ),
    case(
        "method_reads_loop_variable",
        """
        import time
        totals = {"north": 10, "south": 7}
        class Report:
            def line(self):
                time.sleep(0.02)
                return f"{region}: {totals[region]}"
        rep = Report()
        """,
        """
        lines = []
        for region in totals:
            lines.append(rep.line())
        """,
        lambda o: value(o, "lines") == ["north: 10", "south: 7"],
    ),
    case(
        "helper_indexes_by_loop_variable",
        """
        import time
        weights = [0.5, 1.5, 2.5]
        def weight():
            time.sleep(0.02)
            return weights[idx]
        """,
        """
        out = []
        for idx in range(3):
            out.append(weight() * 2)
        """,
        lambda o: value(o, "out") == [1.0, 3.0, 5.0],
    ),
    case(
        "helper_reads_path_of_file_loop",
        """
        import os
        for n, text in [("a.txt", "x"), ("b.txt", "yyyy"), ("c.txt", "zz")]:
            with open(os.path.join("@TMP@", n), "w") as f:
                f.write(text)
        paths = sorted(os.path.join("@TMP@", n) for n in os.listdir("@TMP@"))
        def size_of():
            return os.path.getsize(path)
        """,
        """
        sizes = {}
        for path in paths:
            sizes[os.path.basename(path)] = size_of()
        """,
        lambda o: value(o, "sizes") == {"a.txt": 1, "b.txt": 4, "c.txt": 2},
    ),
    case(
        "inner_comprehension_helper_reads_outer_loop_variable",
        """
        import time
        members = {"red": [1, 2], "blue": [3]}
        bonus = {"red": 10, "blue": 100}
        def member_score(m):
            time.sleep(0.01)
            return m + bonus[g]
        """,
        """
        out = {}
        for g in members:
            out[g] = [member_score(m) for m in members[g]]
        """,
        lambda o: value(o, "out") == {"red": [11, 12], "blue": [103]},
    ),
    case(
        "loop_body_global_read_by_helper",
        """
        import time
        def process():
            time.sleep(0.02)
            return current * 2
        """,
        """
        out = []
        for x in [1, 2, 3]:
            current = x
            out.append(process())
        """,
        lambda o: value(o, "out") == [2, 4, 6],
    ),
    case(
        "iterrows_helper_reads_row",
        """
        import time
        import pandas as pd
        df = pd.DataFrame({"a": [1, 2, 3], "b": [10, 20, 30]})
        def score_row():
            time.sleep(0.02)
            return int(row["a"] * row["b"])
        """,
        """
        scores = {}
        for i, row in df.iterrows():
            scores[i] = score_row()
        """,
        lambda o: value(o, "scores") == {0: 10, 1: 40, 2: 90},
    ),
    case(
        "helper_reads_the_growing_output",
        """
        import time
        def with_position(x):
            time.sleep(0.01)
            return (len(out), x)
        """,
        """
        out = []
        for x in ["a", "b", "c"]:
            out.append(with_position(x))
        """,
        lambda o: value(o, "out") == [(0, "a"), (1, "b"), (2, "c")],
    ),
]
