"""Iterators and generators whose items two statements share."""

from __future__ import annotations

from differential import case, value

KIND = "iterators"

CASES = [
    case(
        "generator_function_shared",
        """
        import time
        def read_rows(n):
            for i in range(n):
                time.sleep(0.01)
                yield {"id": i, "value": i * 10}
        """,
        """
        rows = read_rows(6)
        first_two = [next(rows) for _ in range(2)]
        remaining = list(rows)
        """,
        lambda o: len(value(o, "remaining")) == 4,
    ),
    case(
        "generator_summed_then_listed",
        """
        import time
        def squares(n):
            for i in range(n):
                time.sleep(0.005)
                yield i * i
        """,
        """
        g = squares(10)
        total = sum(g)
        left = list(g)
        """,
        lambda o: (value(o, "total"), value(o, "left")) == (285, []),
    ),
    case(
        "open_file_lines_shared",
        """
        with open("@TMP@/log.txt", "w") as f:
            f.write("date,level\\n2024-01-01,INFO\\n2024-01-02,WARN\\n2024-01-03,INFO\\n")
        """,
        """
        fh = open("@TMP@/log.txt")
        header = fh.readline().strip()
        body = [line.strip() for line in fh]
        fh.close()
        """,
        lambda o: value(o, "header") == "date,level" and len(value(o, "body")) == 3,
    ),
    case(
        "zip_iterator_shared",
        "",
        """
        pairs = zip(["ann", "bob", "cy", "dee"], [31, 25, 47, 19])
        first = next(pairs)
        mapping = dict(pairs)
        """,
        lambda o: value(o, "first") == ("ann", 31) and len(value(o, "mapping")) == 3,
    ),
    case(
        "map_object_consumed_twice",
        """
        import time
        def parse_price(s):
            time.sleep(0.01)
            return float(s.strip("$"))
        raw = ["$3.50", "$12.00", "$7.25", "$30.10"]
        """,
        """
        parsed = map(parse_price, raw)
        cheap = [p for p in parsed if p < 10]
        expensive = [p for p in parsed if p >= 10]
        """,
        lambda o: value(o, "cheap") == [3.5, 7.25] and value(o, "expensive") == [],
    ),
    case(
        "islice_batches_from_one_iterator",
        "import itertools\n",
        """
        it = iter(range(10))
        batch1 = list(itertools.islice(it, 3))
        batch2 = list(itertools.islice(it, 3))
        tail = list(it)
        """,
        lambda o: value(o, "batch2") == [3, 4, 5] and value(o, "tail") == [6, 7, 8, 9],
    ),
    case(
        "csv_reader_header_then_rows",
        "import csv, io\n",
        """
        reader = csv.reader(io.StringIO("id,name\\n1,ann\\n2,bob\\n3,cy\\n"))
        header = next(reader)
        records = [dict(zip(header, row)) for row in reader]
        """,
        lambda o: len(value(o, "records")) == 3,
    ),
    case(
        "enumerate_of_slow_generator",
        """
        import time
        def events():
            for name in ["boot", "login", "click", "logout"]:
                time.sleep(0.02)
                yield name
        """,
        """
        it = enumerate(events())
        i0 = next(it)
        others = list(it)
        """,
        lambda o: value(o, "i0") == (0, "boot") and len(value(o, "others")) == 3,
    ),
    case(
        "iterrows_shared",
        """
        import pandas as pd
        df = pd.DataFrame({"id": [7, 8, 9], "score": [0.5, 0.7, 0.9]})
        """,
        """
        rows = df.iterrows()
        _, first = next(rows)
        rest_ids = [int(r["id"]) for _, r in rows]
        first_id = int(first["id"])
        """,
        lambda o: value(o, "first_id") == 7 and value(o, "rest_ids") == [8, 9],
    ),
    case(
        "chunks_generator_defined_in_cell",
        "import time\n",
        """
        def chunks(seq, size):
            for i in range(0, len(seq), size):
                time.sleep(0.01)
                yield seq[i:i + size]
        parts = chunks(list(range(10)), 3)
        a = next(parts)
        b = next(parts)
        rest = list(parts)
        """,
        lambda o: value(o, "b") == [3, 4, 5] and value(o, "rest") == [[6, 7, 8], [9]],
    ),
    case(
        "global_generator_read_by_helper",
        """
        import time
        stream = (i for i in range(8))
        def take(n):
            time.sleep(0.02)
            return [next(stream) for _ in range(n)]
        """,
        """
        a = take(3)
        b = take(2)
        left = list(stream)
        """,
        lambda o: value(o, "b") == [3, 4] and value(o, "left") == [5, 6, 7],
    ),
    case(
        "itertools_cycle_colors",
        """
        import itertools
        colors = itertools.cycle(["red", "green", "blue"])
        """,
        """
        line_color = next(colors)
        bar_color = next(colors)
        pie_colors = [next(colors) for _ in range(3)]
        """,
        lambda o: value(o, "pie_colors") == ["blue", "red", "green"],
    ),
    case(
        "pandas_chunked_reader",
        """
        import pandas as pd
        pd.DataFrame({"a": range(7)}).to_csv("@TMP@/big.csv", index=False)
        """,
        """
        reader = pd.read_csv("@TMP@/big.csv", chunksize=3)
        first = next(reader)
        rest = pd.concat(reader)
        sizes = (len(first), len(rest))
        """,
        lambda o: value(o, "sizes") == (3, 4),
    ),
    case(
        "iter_with_sentinel_over_queue",
        """
        import collections
        jobs = collections.deque(["a", "b", "c", None])
        """,
        """
        stream = iter(jobs.popleft, None)
        head = next(stream)
        tail = list(stream)
        """,
        lambda o: value(o, "head") == "a" and value(o, "tail") == ["b", "c"],
    ),
    case(
        "tee_copies_advance_underlying",
        """
        import itertools, time
        def readings():
            for v in [3, 1, 4, 1, 5]:
                time.sleep(0.005)
                yield v
        src = readings()
        """,
        """
        a_it, b_it = itertools.tee(src)
        total = sum(a_it)
        peak = max(b_it)
        """,
        lambda o: (value(o, "total"), value(o, "peak")) == (14, 5),
    ),
    case(
        "regex_finditer_shared",
        "import re\ntext = 'order 12 shipped 7 items, 3 left'\n",
        """
        matches = re.finditer(r"\\d+", text)
        first = next(matches).group()
        rest = [m.group() for m in matches]
        """,
        lambda o: value(o, "first") == "12" and value(o, "rest") == ["7", "3"],
    ),
    case(
        "itertuples_shared",
        """
        import pandas as pd
        df = pd.DataFrame({"k": ["a", "b", "c"], "v": [1, 2, 3]})
        """,
        """
        rows = df.itertuples(index=False)
        head = next(rows).k
        others = [r.k for r in rows]
        """,
        lambda o: value(o, "head") == "a" and value(o, "others") == ["b", "c"],
    ),
    case(
        "iterator_kept_as_object_attribute",
        """
        import time
        class Source:
            def __init__(self, rows):
                self.it = iter(rows)
        src = Source([10, 20, 30])
        def next_row():
            time.sleep(0.03)
            return next(src.it)
        """,
        """
        a = next_row()
        b = next_row()
        """,
        lambda o: (value(o, "a"), value(o, "b")) == (10, 20),
    ),
    case(
        "groupby_iterator_shared",
        """
        import pandas as pd
        df = pd.DataFrame({"k": ["x", "y", "x", "z"], "v": [1, 2, 3, 4]})
        """,
        """
        groups = iter(df.groupby("k"))
        first_key, first_frame = next(groups)
        other_keys = [k for k, _ in groups]
        """,
        lambda o: value(o, "first_key") == "x" and value(o, "other_keys") == ["y", "z"],
    ),
    case(
        "itertools_groupby_group_invalidated",
        """
        import itertools
        data = [("a", 1), ("a", 2), ("b", 3)]
        """,
        """
        groups = itertools.groupby(data, key=lambda t: t[0])
        k1, g1 = next(groups)
        k2, g2 = next(groups)
        items1 = list(g1)
        """,
        lambda o: value(o, "k2") == "b" and value(o, "items1") == [],
    ),
]
