"""State held by functions: closures, mutable and global defaults, caches, decorated wrappers."""

from __future__ import annotations

from differential import case, value

KIND = "functions"

CASES = [
    case(
        "closure_nonlocal_counter",
        """
        import time
        def make_counter():
            count = 0
            def tick(label):
                nonlocal count
                time.sleep(0.05)
                count += 1
                return f"{label}#{count}"
            return tick
        tick = make_counter()
        """,
        """
        a = tick("load")
        b = tick("clean")
        c = tick("fit")
        """,
        lambda o: value(o, "c") == "fit#3",
    ),
    case(
        "closure_enclosing_list_log",
        """
        import time
        def make_logger():
            entries = []
            def log(msg):
                time.sleep(0.03)
                entries.append(msg)
                return len(entries)
            def history():
                return list(entries)
            return log, history
        log, history = make_logger()
        """,
        """
        n1 = log("read csv")
        n2 = log("drop nulls")
        seen = history()
        """,
        lambda o: value(o, "seen") == ["read csv", "drop nulls"],
    ),
    case(
        "mutable_default_seen_set",
        """
        import time
        def remember(x, seen=set()):
            time.sleep(0.02 * len(x))
            new = x not in seen
            seen.add(x)
            return new
        """,
        """
        first = remember("alice")
        second = remember("bob")
        again = remember("alice")
        """,
        lambda o: value(o, "first") is True and value(o, "again") is False,
    ),
    case(
        "mutable_default_cache_dict",
        """
        import time
        def fetch_rate(code, _cache={}):
            if code not in _cache:
                time.sleep(0.05)
                _cache[code] = len(code) * 1.5
            return _cache[code], len(_cache)
        """,
        """
        usd = fetch_rate("USD")
        eur = fetch_rate("EUR")
        gbp = fetch_rate("GBP")
        """,
        lambda o: value(o, "gbp") == (4.5, 3),
    ),
    case(
        "global_list_default_columns",
        """
        import time
        import pandas as pd
        COLUMNS = ["price", "qty"]
        df = pd.DataFrame({"price": [1.0, 2.0], "qty": [3, 4], "tax": [0.1, 0.2]})
        def select(frame, cols=COLUMNS):
            return frame[cols].copy()
        def pick_extra():
            time.sleep(0.1)
            return "tax"
        """,
        """
        COLUMNS.append(pick_extra())
        wide = select(df)
        ncols = wide.shape[1]
        """,
        lambda o: value(o, "ncols") == 3,
    ),
    case(
        "global_list_default_limits",
        """
        import time
        LIMITS = [10]
        def clip(values, limits=LIMITS):
            return [min(v, limits[-1]) for v in values]
        def next_limit():
            time.sleep(0.1)
            return 20
        """,
        """
        low = clip([5, 15, 25])
        LIMITS.append(next_limit())
        high = clip([5, 15, 25])
        """,
        lambda o: value(o, "low") == [5, 10, 10] and value(o, "high") == [5, 15, 20],
    ),
    case(
        "global_dict_default_config",
        """
        import time
        CONFIG = {"sep": ","}
        def to_line(values, cfg=CONFIG):
            return cfg["sep"].join(map(str, values))
        def choose_sep():
            time.sleep(0.1)
            return ";"
        """,
        """
        CONFIG["sep"] = choose_sep()
        line = to_line([1, 2, 3])
        """,
        lambda o: value(o, "line") == "1;2;3",
    ),
    case(
        "lru_cache_hits_and_misses",
        """
        import functools, time
        @functools.lru_cache(maxsize=None)
        def load_table(name):
            time.sleep(0.05)
            return tuple(range(len(name)))
        """,
        """
        t1 = load_table("sales")
        t2 = load_table("sales")
        info = load_table.cache_info()
        hits, misses = info.hits, info.misses
        """,
        lambda o: (value(o, "hits"), value(o, "misses")) == (1, 1),
    ),
    case(
        "lru_cache_size_read_after_call",
        """
        import functools, time
        @functools.lru_cache(maxsize=32)
        def parse(line):
            time.sleep(0.05)
            return [int(x) for x in line.split(",")]
        """,
        """
        before = parse.cache_info().currsize
        row = parse("1,2,3")
        after = parse.cache_info().currsize
        """,
        lambda o: (value(o, "before"), value(o, "after")) == (0, 1),
    ),
    case(
        "lru_cache_keeps_stale_global",
        """
        import functools
        RATE = 2
        @functools.lru_cache
        def convert(x):
            return x * RATE
        """,
        """
        a = convert(5)
        RATE = 3
        b = convert(5)
        c = convert(6)
        """,
        lambda o: (value(o, "a"), value(o, "b"), value(o, "c")) == (10, 10, 18),
    ),
    case(
        "decorator_counts_calls",
        """
        import functools, time
        def counted(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                result = fn(*args, **kwargs)
                wrapper.calls += 1
                return result
            wrapper.calls = 0
            return wrapper
        @counted
        def normalize(xs):
            time.sleep(0.05)
            total = sum(xs)
            return [x / total for x in xs]
        """,
        """
        p = normalize([1, 1, 2])
        q = normalize([3, 1])
        calls = normalize.calls
        """,
        lambda o: value(o, "calls") == 2,
    ),
    case(
        "decorator_trace_log_in_closure",
        """
        import functools, time
        def traced(fn):
            log = []
            @functools.wraps(fn)
            def inner(x):
                out = fn(x)
                log.append((fn.__name__, x))
                return out
            inner.log = log
            return inner
        @traced
        def square(x):
            time.sleep(0.03)
            return x * x
        """,
        """
        s1 = square(3)
        s2 = square(4)
        trace = list(square.log)
        """,
        lambda o: value(o, "trace") == [("square", 3), ("square", 4)],
    ),
    case(
        "closure_over_itertools_count",
        """
        import itertools, time
        def make_ids(prefix):
            counter = itertools.count(1)
            def new_order(items):
                time.sleep(0.03 * len(items))
                return f"{prefix}-{next(counter)}"
            return new_order
        new_order = make_ids("ord")
        """,
        """
        o1 = new_order(["apple", "pear", "fig"])
        o2 = new_order(["milk"])
        o3 = new_order([])
        ids = [o1, o2, o3]
        """,
        lambda o: value(o, "ids") == ["ord-1", "ord-2", "ord-3"],
    ),
    case(
        "partial_bound_to_global_list",
        """
        import time
        from functools import partial
        def collect(bucket, item):
            time.sleep(0.03)
            bucket.append(item)
            return len(bucket)
        errors = []
        report_error = partial(collect, errors)
        """,
        """
        n1 = report_error("missing id")
        n2 = report_error("bad date")
        total = len(errors)
        """,
        lambda o: value(o, "total") == 2,
    ),
    case(
        "function_attribute_memo",
        """
        import time
        def fib(n):
            if n in fib.memo:
                return fib.memo[n]
            time.sleep(0.002)
            fib.memo[n] = fib(n - 1) + fib(n - 2)
            return fib.memo[n]
        fib.memo = {0: 0, 1: 1}
        """,
        """
        f30 = fib(30)
        known = len(fib.memo)
        """,
        lambda o: (value(o, "f30"), value(o, "known")) == (832040, 31),
    ),
    case(
        "closure_running_mean",
        """
        import time
        def running_mean():
            total = count = 0
            def update(x):
                nonlocal total, count
                time.sleep(0.02)
                total += x
                count += 1
                return total / count
            return update
        avg = running_mean()
        """,
        """
        m1 = avg(10)
        m2 = avg(20)
        m3 = avg(60)
        """,
        lambda o: (value(o, "m1"), value(o, "m3")) == (10.0, 30.0),
    ),
    case(
        "default_counter_object",
        """
        import itertools, time
        def next_id(prefix, _ids=itertools.count(1)):
            time.sleep(0.05 if prefix == "user" else 0)
            return f"{prefix}-{next(_ids)}"
        """,
        """
        u = next_id("user")
        g = next_id("group")
        """,
        lambda o: (value(o, "u"), value(o, "g")) == ("user-1", "group-2"),
    ),
    case(
        "closure_over_instance_collects_rows",
        """
        import time
        class Sink:
            def __init__(self):
                self.rows = []
        def make_writer(sink):
            def write(row):
                time.sleep(0.03)
                sink.rows.append(row)
                return len(sink.rows)
            return write
        out = Sink()
        write = make_writer(out)
        """,
        """
        w1 = write({"id": 1})
        w2 = write({"id": 2})
        written = len(out.rows)
        """,
        lambda o: value(o, "written") == 2,
    ),
    case(
        "generator_function_keeps_running_total",
        """
        import time
        def running_totals():
            total = 0
            while True:
                time.sleep(0.02)
                total += 1
                yield total
        counter = running_totals()
        def bump():
            return next(counter)
        """,
        """
        first = bump()
        second = bump()
        """,
        lambda o: (value(o, "first"), value(o, "second")) == (1, 2),
    ),
    case(
        "imported_helper_module_keeps_a_cache",
        """
        import sys, time
        with open("@TMP@/helpers_cache.py", "w") as f:
            f.write(
                "import time\\n"
                "CALLS = []\\n"
                "def load(name):\\n"
                "    time.sleep(0.05)\\n"
                "    CALLS.append(name)\\n"
                "    return name.upper()\\n"
            )
        sys.path.insert(0, "@TMP@")
        from helpers_cache import load, CALLS
        """,
        """
        a = load("sales")
        b = load("stock")
        loaded = list(CALLS)
        """,
        lambda o: value(o, "loaded") == ["sales", "stock"],
    ),
    case(
        "default_argument_is_bound_append",
        """
        import time
        rows = []
        def process(x, emit=rows.append):
            time.sleep(0.05)
            emit(x * 2)
            return x
        """,
        """
        p1 = process(1)
        n_rows = len(rows)
        """,
        lambda o: value(o, "n_rows") == 1,
    ),
]
