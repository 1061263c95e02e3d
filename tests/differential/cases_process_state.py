"""Process-wide state (1/2): sys.path and imports, the working directory, global RNGs,
decimal contexts and other context variables."""

from __future__ import annotations

from differential import case, err, out, value

KIND = "process"

WRITE_PRICING = """
import os, time
os.makedirs("@TMP@/libs", exist_ok=True)
with open("@TMP@/libs/pricing.py", "w") as f:
    f.write("RATE = 0.2\\ndef net(x):\\n    return round(x * (1 - RATE), 2)\\n")
"""

CASES = [
    case(
        "sys_path_then_import",
        WRITE_PRICING,
        """
        import sys
        sys.path.insert(0, "@TMP@/libs")
        import pricing
        net = pricing.net(100)
        """,
        lambda o: value(o, "net") == 80.0,
    ),
    case(
        "sys_path_then_import_in_helper",
        WRITE_PRICING
        + """
import importlib
def rate_of(module_name):
    time.sleep(0.02)
    return importlib.import_module(module_name).RATE
""",
        """
        import sys
        sys.path.append("@TMP@/libs")
        rate = rate_of("pricing")
        """,
        lambda o: value(o, "rate") == 0.2,
    ),
    case(
        "module_rewritten_and_reloaded",
        """
        with open("@TMP@/settings_mod.py", "w") as f:
            f.write("LEVEL = 1\\n")
        """,
        """
        import importlib, sys
        sys.path.insert(0, "@TMP@")
        import settings_mod
        before = settings_mod.LEVEL
        with open("@TMP@/settings_mod.py", "w") as f:
            f.write("LEVEL = 2\\n")
        importlib.invalidate_caches()
        settings_mod = importlib.reload(settings_mod)
        after = settings_mod.LEVEL
        """,
        lambda o: (value(o, "before"), value(o, "after")) == (1, 2),
    ),
    case(
        "module_attribute_set_then_read_by_helper",
        WRITE_PRICING
        + """
import sys
sys.path.insert(0, "@TMP@/libs")
import pricing
def net_price(x):
    time.sleep(0.02)
    return round(x * (1 - pricing.RATE), 2)
def configure(rate):
    time.sleep(0.05)
    pricing.RATE = rate
""",
        """
        configure(0.5)
        discounted = net_price(100)
        """,
        lambda o: value(o, "discounted") == 50.0,
    ),
    case(
        "chdir_then_relative_write_and_size",
        """
        import os
        os.makedirs("@TMP@/work", exist_ok=True)
        def save(name, text):
            with open(name, "w") as f:
                f.write(text)
        """,
        """
        os.chdir("@TMP@/work")
        save("notes.txt", "hello world")
        size = os.path.getsize("notes.txt")
        """,
        lambda o: value(o, "size") == 11,
    ),
    case(
        "chdir_then_pandas_roundtrip",
        """
        import os
        import pandas as pd
        os.makedirs("@TMP@/out", exist_ok=True)
        df = pd.DataFrame({"a": [1, 2], "b": [3.5, 4.5]})
        """,
        """
        os.chdir("@TMP@/out")
        df.to_csv("table.csv", index=False)
        back = pd.read_csv("table.csv")
        same = back.equals(df)
        """,
        lambda o: value(o, "same") is True,
    ),
    case(
        "chdir_then_helper_reads_relative_config",
        """
        import os
        os.makedirs("@TMP@/proj", exist_ok=True)
        with open("@TMP@/proj/config.ini", "w") as f:
            f.write("[db]\\nport = 5432\\n")
        def load_config():
            with open("config.ini") as f:
                return f.read().splitlines()
        """,
        """
        os.chdir("@TMP@/proj")
        cfg = load_config()
        port = int(cfg[1].split("=")[1])
        """,
        lambda o: value(o, "port") == 5432,
    ),
    case(
        "chdir_then_glob",
        """
        import os
        from pathlib import Path
        os.makedirs("@TMP@/data", exist_ok=True)
        for n in ["b.txt", "a.txt", "c.csv"]:
            Path("@TMP@/data", n).write_text(n)
        """,
        """
        os.chdir("@TMP@/data")
        texts = sorted(p.name for p in Path(".").glob("*.txt"))
        """,
        lambda o: value(o, "texts") == ["a.txt", "b.txt"],
    ),
    case(
        "random_through_default_argument",
        """
        import random, time
        def jitter(x, rnd=random.random):
            time.sleep(0.02)
            return round(x + rnd(), 6)
        """,
        """
        random.seed(7)
        a = jitter(1)
        b = jitter(2)
        """,
        lambda o: 1 < value(o, "a") < 2 < value(o, "b") < 3,
    ),
    case(
        "random_through_alias",
        """
        import random
        rnd = random.random
        def slow_seed(n):
            import time
            time.sleep(0.05)
            random.seed(n)
        """,
        """
        slow_seed(3)
        x = rnd()
        y = rnd()
        """,
        lambda o: 0 <= value(o, "x") < 1,
    ),
    case(
        "numpy_random_through_alias",
        """
        import numpy as np
        draw = np.random.normal
        """,
        """
        np.random.seed(0)
        noise = draw(size=3)
        shift = draw()
        """,
        lambda o: len(value(o, "noise")) == 3,
    ),
    case(
        "numpy_global_rng_in_helper",
        """
        import numpy as np
        data = [2.0, 4.0, 6.0, 8.0, 10.0]
        def bootstrap(xs):
            idx = np.random.randint(0, len(xs), len(xs))
            return float(np.mean(np.asarray(xs)[idx]))
        """,
        """
        np.random.seed(1)
        m1 = bootstrap(data)
        m2 = bootstrap(data)
        """,
        lambda o: isinstance(value(o, "m2"), float),
    ),
    case(
        "random_shuffle_in_helper",
        """
        import random, time
        def shuffled(xs):
            time.sleep(0.02)
            ys = list(xs)
            random.shuffle(ys)
            return ys
        """,
        """
        random.seed(42)
        order_a = shuffled(range(6))
        order_b = shuffled(range(6))
        """,
        lambda o: sorted(value(o, "order_b")) == list(range(6)),
    ),
    case(
        "decimal_precision",
        "from decimal import Decimal, getcontext\n",
        """
        getcontext().prec = 4
        third = Decimal(1) / Decimal(3)
        back = third * 3
        text = str(back)
        """,
        lambda o: value(o, "text") == "0.9999",
    ),
    case(
        "decimal_rounding_in_helper",
        """
        from decimal import Decimal, getcontext, ROUND_DOWN
        def to_cents(x):
            return str(Decimal(x).quantize(Decimal("0.01")))
        """,
        """
        getcontext().rounding = ROUND_DOWN
        price = to_cents("2.675")
        """,
        lambda o: value(o, "price") == "2.67",
    ),
    case(
        "user_context_variable",
        """
        import contextvars
        request_id = contextvars.ContextVar("request_id", default="none")
        def log_line(msg):
            return f"[{request_id.get()}] {msg}"
        """,
        """
        token = request_id.set("req-42")
        line = log_line("started")
        print(line)
        """,
        lambda o: out(o) == "[req-42] started\n",
    ),
    case(
        "dataframe_sample_after_global_seed",
        """
        import numpy as np
        import pandas as pd
        df = pd.DataFrame({"v": range(20)})
        """,
        """
        np.random.seed(42)
        picked = df.sample(4)["v"].tolist()
        """,
        lambda o: len(value(o, "picked")) == 4,
    ),
    case(
        "chdir_then_pathlib_resolve",
        """
        import os
        from pathlib import Path
        os.makedirs("@TMP@/proj", exist_ok=True)
        Path("@TMP@/proj/config.ini").write_text("x")
        """,
        """
        os.chdir("@TMP@/proj")
        cfg_path = Path("config.ini").resolve()
        found = cfg_path.exists()
        """,
        lambda o: value(o, "found") is True,
    ),
    case(
        "warnings_error_filter_then_numpy_warning",
        "import warnings\nimport numpy as np\n",
        """
        warnings.simplefilter("error", RuntimeWarning)
        logs = np.log(np.array([1.0, 0.0]))
        """,
        lambda o: err(o)[0] == "RuntimeWarning",
    ),
    case(
        "module_reached_through_dict",
        WRITE_PRICING
        + """
import sys
sys.path.insert(0, "@TMP@/libs")
import pricing
mods = {"pricing": pricing}
def slow_rate():
    time.sleep(0.1)
    return 0.5
""",
        """
        mods["pricing"].RATE = slow_rate()
        discounted = pricing.net(100)
        """,
        lambda o: value(o, "discounted") == 50.0,
    ),
    case(
        "asyncio_run_inside_running_loop",
        "import asyncio\n",
        """
        async def fetch():
            await asyncio.sleep(0.01)
            return 5
        result = asyncio.run(fetch())
        """,
        lambda o: err(o)[0] == "RuntimeError" and "running event loop" in err(o)[1],
    ),
    case(
        "event_loop_of_the_cell",
        "import asyncio\n",
        """
        loop = asyncio.get_event_loop()
        running = loop.is_running()
        del loop
        """,
        lambda o: value(o, "running") is True,
    ),
    case(
        "signal_handler_installed_and_restored",
        """
        import signal
        def on_alarm(signum, frame):
            raise TimeoutError("too slow")
        """,
        """
        previous = signal.signal(signal.SIGALRM, on_alarm)
        restored = signal.signal(signal.SIGALRM, previous) is on_alarm
        """,
        lambda o: value(o, "restored") is True,
    ),
    case(
        "helper_inspects_its_caller",
        """
        import inspect
        def who_called():
            return inspect.stack()[1].function
        """,
        """
        caller = who_called()
        print(caller)
        """,
        lambda o: value(o, "caller") == "<module>",
    ),
    case(
        "sqlite_connection_of_an_earlier_cell",
        """
        import sqlite3
        con = sqlite3.connect(":memory:")
        con.execute("create table sales (region text, amount real)")
        con.executemany("insert into sales values (?, ?)", [("n", 1.5), ("s", 2.0), ("n", 3.0)])
        """,
        """
        rows = con.execute("select region, sum(amount) from sales group by region").fetchall()
        n_rows = len(rows)
        """,
        lambda o: value(o, "rows") == [("n", 4.5), ("s", 2.0)],
    ),
    case(
        "read_sql_with_connection_of_an_earlier_cell",
        """
        import sqlite3
        import pandas as pd
        con = sqlite3.connect(":memory:")
        pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}).to_sql("t", con, index=False)
        """,
        """
        frame = pd.read_sql("select * from t", con)
        total = int(frame["v"].sum())
        """,
        lambda o: value(o, "total") == 3,
    ),
    case(
        "working_directory_removed_after_use",
        """
        import os, shutil, time
        home = os.getcwd()
        def work(x):
            time.sleep(0.02)
            return x * x
        """,
        """
        os.makedirs("@TMP@/scratch_run", exist_ok=True)
        os.chdir("@TMP@/scratch_run")
        a = work(3)
        os.chdir(home)
        shutil.rmtree("@TMP@/scratch_run")
        b = work(4)
        """,
        lambda o: (value(o, "a"), value(o, "b")) == (9, 16),
    ),
]
