"""Aliases (views, second names, items taken out of containers) changed in place, and
calls that change a value in place used as expressions (matters most on --processes)."""

from __future__ import annotations

from differential import case, value

KIND = "aliasing"

CASES = [
    case(
        "numpy_slice_view_zeroed",
        "import numpy as np\narr = np.arange(10)\n",
        """
        window = arr[2:5]
        window[:] = 0
        total = int(arr.sum())
        """,
        lambda o: value(o, "total") == 45 - 9,
    ),
    case(
        "second_name_for_dataframe",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2, 3]})\n",
        """
        df2 = df
        df2["b"] = df2["a"] * 2
        cols = list(df.columns)
        """,
        lambda o: value(o, "cols") == ["a", "b"],
    ),
    case(
        "list_taken_out_of_dict",
        "groups = {'a': [1, 2], 'b': [3]}\n",
        """
        bucket = groups["a"]
        bucket.append(9)
        size_a = len(groups["a"])
        """,
        lambda o: value(o, "size_a") == 3,
    ),
    case(
        "heappop_as_expression",
        "import heapq\ntasks = [(3, 'write'), (1, 'read'), (2, 'parse')]\nheapq.heapify(tasks)\n",
        """
        first = heapq.heappop(tasks)
        next_up = tasks[0]
        remaining = len(tasks)
        """,
        lambda o: value(o, "first") == (1, "read") and value(o, "remaining") == 2,
    ),
    case(
        "heappushpop_as_expression",
        "import heapq\nh = [2, 5, 9]\n",
        """
        smallest = heapq.heappushpop(h, 7)
        now = list(h)
        """,
        lambda o: value(o, "smallest") == 2 and sorted(value(o, "now")) == [5, 7, 9],
    ),
    case(
        "shuffle_result_assigned",
        "import random\ndeck = list(range(8))\n",
        """
        random.seed(5)
        result = random.shuffle(deck)
        top = deck[:3]
        """,
        lambda o: value(o, "result") is None and sorted(value(o, "deck")) == list(range(8)),
    ),
    case(
        "numpy_row_view_incremented",
        "import numpy as np\nmatrix = np.zeros((3, 3))\n",
        """
        row = matrix[1]
        row += 10
        row_sums = matrix.sum(axis=1).tolist()
        """,
        lambda o: value(o, "row_sums") == [0.0, 30.0, 0.0],
    ),
    case(
        "asarray_returns_same_array",
        "import numpy as np\nx = np.array([1.0, 2.0, 3.0])\n",
        """
        y = np.asarray(x)
        y[0] = -1
        first = float(x[0])
        """,
        lambda o: value(o, "first") == -1.0,
    ),
    case(
        "attribute_alias_of_settings_dict",
        """
        class Pipeline:
            def __init__(self):
                self.settings = {"mode": "safe", "retries": 1}
        pipe = Pipeline()
        """,
        """
        s = pipe.settings
        s["mode"] = "fast"
        mode = pipe.settings["mode"]
        """,
        lambda o: value(o, "mode") == "fast",
    ),
    case(
        "dict_get_alias_of_nested_config",
        "config = {'db': {'host': 'localhost', 'port': 5432}}\n",
        """
        db = config.get("db")
        db["port"] = 5433
        port = config["db"]["port"]
        """,
        lambda o: value(o, "port") == 5433,
    ),
    case(
        "last_element_alias",
        "history = [['init'], ['load']]\n",
        """
        latest = history[-1]
        latest.append("clean")
        steps = [len(h) for h in history]
        """,
        lambda o: value(o, "steps") == [1, 2],
    ),
    case(
        "transpose_view_written",
        "import numpy as np\na = np.zeros((2, 3), dtype=int)\n",
        """
        t = a.T
        t[2, 1] = 99
        corner = int(a[1, 2])
        """,
        lambda o: value(o, "corner") == 99,
    ),
    case(
        "reshape_view_filled",
        "import numpy as np\ngrid = np.zeros((2, 2))\n",
        """
        flat = grid.reshape(-1)
        flat[:] = 1.5
        total = float(grid.sum())
        """,
        lambda o: value(o, "total") == 6.0,
    ),
    case(
        "copy_is_not_an_alias",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\n",
        """
        backup = df.copy()
        df["a"] = 0
        same = backup.equals(df)
        """,
        lambda o: value(o, "same") is False,
    ),
    case(
        "alias_item_deleted",
        "batches = [[1, 2, 3], [4]]\n",
        """
        current = batches[0]
        del current[0]
        sizes = [len(b) for b in batches]
        """,
        lambda o: value(o, "sizes") == [2, 1],
    ),
    case(
        "series_alias_of_column_object",
        """
        import pandas as pd
        class Store:
            def __init__(self):
                self.prices = pd.Series([1.0, 2.0, 3.0])
        shop = Store()
        """,
        """
        p = shop.prices
        p.iloc[0] = 10.0
        first_price = float(shop.prices.iloc[0])
        """,
        lambda o: value(o, "first_price") == 10.0,
    ),
    case(
        "chained_assignment_aliases",
        "",
        """
        a = b = []
        a.append(1)
        n = len(b)
        """,
        lambda o: value(o, "n") == 1,
    ),
    case(
        "tuple_unpacked_aliases",
        "pair = ([1], [2])\n",
        """
        left, right = pair
        left.append(10)
        first = list(pair[0])
        """,
        lambda o: value(o, "first") == [1, 10],
    ),
    case(
        "ufunc_out_argument_assigned",
        "import numpy as np\na = np.array([1.0, 2.0])\n",
        """
        res = np.multiply(a, 10, out=a)
        total = float(a.sum())
        """,
        lambda o: value(o, "total") == 30.0,
    ),
    case(
        "shallow_copy_of_object_shares_list",
        """
        import copy
        class Config:
            def __init__(self):
                self.tags = ["base"]
        cfg = Config()
        """,
        """
        cfg2 = copy.copy(cfg)
        cfg2.tags.append("extra")
        n_tags = len(cfg.tags)
        """,
        lambda o: value(o, "n_tags") == 2,
    ),
    case(
        "series_taken_before_frame_changes",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\n",
        """
        s = df["a"]
        df.loc[0, "a"] = 100
        first = int(s.iloc[0])
        """,
        lambda o: value(o, "first") == 1,
    ),
    case(
        "copyto_through_column_view",
        "import numpy as np\nmatrix = np.zeros((2, 3))\n",
        """
        col = matrix[:, 1]
        np.copyto(col, 5.0)
        total = float(matrix.sum())
        """,
        lambda o: value(o, "total") == 10.0,
    ),
    case(
        "setdefault_returns_inner_list",
        "index = {}\n",
        """
        bucket = index.setdefault("a", [])
        bucket.append(1)
        n = len(index["a"])
        """,
        lambda o: value(o, "n") == 1,
    ),
    case(
        "first_value_of_dict_changed",
        "groups = {'x': [1], 'y': [2, 3]}\n",
        """
        first = next(iter(groups.values()))
        first.append(9)
        sizes = {k: len(v) for k, v in groups.items()}
        """,
        lambda o: value(o, "sizes") == {"x": 2, "y": 2},
    ),
    case(
        "max_with_key_returns_element",
        "rows = [[1], [1, 2, 3], [4, 5]]\n",
        """
        longest = max(rows, key=len)
        longest.append(0)
        widths = [len(r) for r in rows]
        """,
        lambda o: value(o, "widths") == [1, 4, 2],
    ),
    case(
        "random_choice_returns_element",
        "import random\nboxes = [[1], [2], [3]]\nrandom.seed(4)\n",
        """
        pick = random.choice(boxes)
        pick.append("x")
        tagged = sum("x" in b for b in boxes)
        """,
        lambda o: value(o, "tagged") == 1,
    ),
    case(
        "last_of_sorted_copy_is_an_element",
        "items = [[3], [1], [2]]\n",
        """
        biggest = sorted(items)[-1]
        biggest.append(30)
        flat = [x for it in items for x in it]
        """,
        lambda o: value(o, "flat") == [3, 30, 1, 2],
    ),
]
