"""In-place changes through loop targets and comprehension elements, then a read."""

from __future__ import annotations

from differential import case, value

KIND = "inplace"

CASES = [
    case(
        "comprehension_helper_adds_key",
        """
        import time
        records = [{"id": 1, "price": 10}, {"id": 2, "price": 20}, {"id": 3, "price": 5}]
        def add_tax(r):
            time.sleep(0.02)
            r["price_tax"] = round(r["price"] * 1.2, 2)
            return r["price_tax"]
        """,
        """
        taxed = [add_tax(r) for r in records]
        with_tax = sum("price_tax" in r for r in records)
        """,
        lambda o: value(o, "with_tax") == 3,
    ),
    case(
        "loop_appends_row_total",
        "rows = [[1, 2], [3, 4], [5, 6]]\n",
        """
        for row in rows:
            row.append(sum(row))
        totals = [row[-1] for row in rows]
        """,
        lambda o: value(o, "totals") == [3, 7, 11],
    ),
    case(
        "numpy_rows_scaled_in_place",
        """
        import numpy as np
        matrix = np.arange(6, dtype=float).reshape(3, 2)
        """,
        """
        for row in matrix:
            row *= 2
        s = float(matrix.sum())
        """,
        lambda o: value(o, "s") == 30.0,
    ),
    case(
        "dataframes_in_list_get_column",
        """
        import pandas as pd
        frames = [pd.DataFrame({"a": [1, 2], "b": [3, 4]}), pd.DataFrame({"a": [5], "b": [6]})]
        """,
        """
        for frame in frames:
            frame["total"] = frame["a"] + frame["b"]
        cols = [list(f.columns) for f in frames]
        """,
        lambda o: value(o, "cols") == [["a", "b", "total"]] * 2,
    ),
    case(
        "comprehension_helper_normalizes_names",
        """
        import time
        people = [{"name": "  ann lee "}, {"name": "BOB  "}, {"name": "cy"}]
        def normalize(p):
            time.sleep(0.02)
            p["name"] = p["name"].strip().title()
            return len(p["name"])
        """,
        """
        lengths = [normalize(p) for p in people]
        names_now = [p["name"] for p in people]
        """,
        lambda o: value(o, "names_now") == ["Ann Lee", "Bob", "Cy"],
    ),
    case(
        "loop_calls_method_on_each_account",
        """
        import time
        class Account:
            def __init__(self, balance):
                self.balance = balance
            def apply_interest(self, rate):
                time.sleep(0.02)
                self.balance = round(self.balance * (1 + rate), 2)
        accounts = [Account(100), Account(250)]
        """,
        """
        for acct in accounts:
            acct.apply_interest(0.1)
        total = sum(a.balance for a in accounts)
        """,
        lambda o: value(o, "total") == 385.0,
    ),
    case(
        "loop_strips_records_and_collects",
        """
        raw = [{"name": " ann "}, {"name": "bob "}]
        """,
        """
        cleaned = []
        for rec in raw:
            rec["name"] = rec["name"].strip()
            cleaned.append(rec["name"])
        still_dirty = sum(r["name"] != r["name"].strip() for r in raw)
        """,
        lambda o: value(o, "still_dirty") == 0,
    ),
    case(
        "loop_sorts_dict_values",
        "groups = {'a': [3, 1, 2], 'b': [9, 7]}\n",
        """
        for lst in groups.values():
            lst.sort()
        smallest = {k: v[0] for k, v in groups.items()}
        """,
        lambda o: value(o, "smallest") == {"a": 1, "b": 7},
    ),
    case(
        "comprehension_of_method_calls_closes_sessions",
        """
        import time
        class Session:
            def __init__(self, user):
                self.user, self.done = user, False
            def finish(self):
                time.sleep(0.02)
                self.done = True
                return self.user
        sessions = [Session("ann"), Session("bob"), Session("cy")]
        """,
        """
        finished = [s.finish() for s in sessions]
        open_count = sum(not s.done for s in sessions)
        """,
        lambda o: value(o, "open_count") == 0,
    ),
    case(
        "set_comprehension_tags_items",
        """
        import time
        items = [{"sku": "a1", "tags": []}, {"sku": "b2", "tags": []}]
        def tag_item(it):
            time.sleep(0.02)
            it["tags"].append("seen")
            return it["sku"]
        """,
        """
        skus = {tag_item(it) for it in items}
        tag_counts = [len(it["tags"]) for it in items]
        """,
        lambda o: value(o, "tag_counts") == [1, 1],
    ),
    case(
        "comprehension_normalizes_arrays_in_place",
        """
        import numpy as np
        arrays = [np.array([1.0, 2.0, 4.0]), np.array([5.0, 10.0])]
        def normalize_inplace(a):
            a /= a.max()
            return float(a.sum())
        """,
        """
        sums = [normalize_inplace(a) for a in arrays]
        maxes = [float(a.max()) for a in arrays]
        """,
        lambda o: value(o, "maxes") == [1.0, 1.0],
    ),
    case(
        "loop_sets_grid_diagonal",
        "grid = [[0] * 3 for _ in range(3)]\n",
        """
        for i, row in enumerate(grid):
            row[i] = 1
        trace = sum(grid[i][i] for i in range(3))
        """,
        lambda o: value(o, "trace") == 3,
    ),
    case(
        "sum_of_generator_pops_baskets",
        """
        import time
        baskets = [[1, 2, 3], [4, 5]]
        def consume(b):
            time.sleep(0.02)
            return b.pop()
        """,
        """
        total = sum(consume(b) for b in baskets)
        left = [len(b) for b in baskets]
        """,
        lambda o: (value(o, "total"), value(o, "left")) == (8, [2, 1]),
    ),
    case(
        "comprehension_of_sort_calls",
        "data = [[3, 1], [9, 4, 6], [2]]\n",
        """
        nones = [x.sort() for x in data]
        firsts = [x[0] for x in data]
        """,
        lambda o: value(o, "firsts") == [1, 4, 2],
    ),
    case(
        "loop_drops_column_in_place",
        """
        import pandas as pd
        frames = [pd.DataFrame({"a": [1], "tmp": [0]}), pd.DataFrame({"a": [2], "tmp": [0]})]
        """,
        """
        for frame in frames:
            frame.drop(columns=["tmp"], inplace=True)
        widths = [f.shape[1] for f in frames]
        """,
        lambda o: value(o, "widths") == [1, 1],
    ),
    case(
        "loop_clips_arrays_with_out",
        """
        import numpy as np
        arrays = [np.array([-1.0, 0.5, 2.0]), np.array([3.0, -2.0])]
        """,
        """
        for a in arrays:
            np.clip(a, 0, 1, out=a)
        highs = [float(a.max()) for a in arrays]
        """,
        lambda o: value(o, "highs") == [1.0, 1.0],
    ),
    case(
        "comprehension_of_update_calls",
        "dicts = [{'id': 1}, {'id': 2}]\n",
        """
        results = [d.update(seen=True) for d in dicts]
        flagged = sum(d.get("seen", False) for d in dicts)
        """,
        lambda o: value(o, "flagged") == 2,
    ),
    case(
        "map_of_unbound_sort",
        "data = [[3, 1], [9, 4, 6]]\n",
        """
        nones = list(map(list.sort, data))
        firsts = [x[0] for x in data]
        """,
        lambda o: value(o, "firsts") == [1, 4],
    ),
    case(
        "comprehension_of_fill_calls",
        "import numpy as np\narrays = [np.ones(2), np.ones(3)]\n",
        """
        done = [a.fill(0) for a in arrays]
        sums = [float(a.sum()) for a in arrays]
        """,
        lambda o: value(o, "sums") == [0.0, 0.0],
    ),
    case(
        "loop_over_bound_callbacks_then_read",
        """
        import time
        results, audit = [], []
        def slow_audit(x):
            time.sleep(0.05)
            audit.append(x)
        on_done = [results.append, slow_audit]
        """,
        """
        for cb in on_done:
            cb("job-7")
        n_results, n_audit = len(results), len(audit)
        """,
        lambda o: (value(o, "n_results"), value(o, "n_audit")) == (1, 1),
    ),
]
