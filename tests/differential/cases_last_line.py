"""A bare call on the cell's last line (its value is shown) after earlier discarded calls."""

from __future__ import annotations

from differential import case, out, value

KIND = "lastline"

STEPS = """
import time
steps = []
def log_step(name):
    time.sleep(0.05)
    steps.append(name)
def summarize_log():
    return " -> ".join(steps)
"""


def shown(o: dict) -> str:
    """The text/plain of the cell's displayed value."""
    return o["results"][0]["text/plain"] if o["results"] else ""


CASES = [
    case(
        "summary_after_logged_steps",
        STEPS,
        """
        log_step("load")
        log_step("clean")
        summarize_log()
        """,
        lambda o: shown(o) == "'load -> clean'",
    ),
    case(
        "counter_after_updates",
        """
        import time
        from collections import Counter
        counts = Counter()
        def update_counts(words):
            time.sleep(0.03)
            counts.update(words)
        def top(n):
            return counts.most_common(n)
        """,
        """
        update_counts(["a", "b", "a"])
        update_counts(["b", "a", "c"])
        top(2)
        """,
        lambda o: shown(o) == "[('a', 3), ('b', 2)]",
    ),
    case(
        "dataframe_head_after_helper_adds_column",
        """
        import time
        import pandas as pd
        df = pd.DataFrame({"x": [1, 2, 3]})
        def add_square(frame):
            time.sleep(0.05)
            frame["x2"] = frame["x"] ** 2
        def preview():
            return df.head(2)
        """,
        """
        add_square(df)
        preview()
        """,
        lambda o: "x2" in shown(o),
    ),
    case(
        "progress_printer_after_steps",
        """
        import time
        done = []
        def step(n):
            time.sleep(0.03)
            print("step", n)
            done.append(n)
        def progress():
            print(f"{len(done)} steps done")
        """,
        """
        step(1)
        step(2)
        progress()
        """,
        lambda o: out(o) == "step 1\nstep 2\n2 steps done\n",
    ),
    case(
        "global_rng_draw_after_seed_call",
        """
        import time
        import numpy as np
        def reseed(n):
            time.sleep(0.05)
            np.random.seed(n)
        def sample():
            return np.random.randint(0, 100, 3).tolist()
        """,
        """
        reseed(3)
        sample()
        """,
        lambda o: shown(o) == "[24, 3, 56]",
    ),
    case(
        "tracker_summary_after_adds",
        """
        import time
        class Tracker:
            def __init__(self):
                self.items = []
            def add(self, x):
                time.sleep(0.03)
                self.items.append(x)
            def summary(self):
                return {"n": len(self.items), "sum": sum(self.items)}
        tracker = Tracker()
        def record(x):
            tracker.add(x)
        def report():
            return tracker.summary()
        """,
        """
        record(5)
        record(7)
        report()
        """,
        lambda o: shown(o) == "{'n': 2, 'sum': 12}",
    ),
    case(
        "listdir_after_writes",
        """
        import os, time
        def write_file(name, text):
            time.sleep(0.03)
            with open(os.path.join("@TMP@", name), "w") as f:
                f.write(text)
        def listing():
            return sorted(os.listdir("@TMP@"))
        """,
        """
        write_file("a.txt", "1")
        write_file("b.txt", "2")
        listing()
        """,
        lambda o: shown(o) == "['a.txt', 'b.txt']",
    ),
    case(
        "display_table_after_prints",
        """
        import time
        from IPython.display import display
        rows = []
        def add_row(r):
            time.sleep(0.03)
            print("adding", r)
            rows.append(r)
        def show_rows():
            display(list(rows))
        """,
        """
        add_row("ann")
        add_row("bob")
        show_rows()
        """,
        lambda o: len(o["outputs"]) == 2 and o["outputs"][1][0] == "display",
    ),
    case(
        "total_after_charges",
        """
        import time
        balance = {"total": 0}
        def charge(x):
            time.sleep(0.03)
            balance["total"] += x
        def get_total():
            return balance["total"]
        """,
        """
        charge(30)
        charge(12)
        get_total()
        """,
        lambda o: shown(o) == "42",
    ),
    case(
        "file_contents_after_appends",
        """
        import time
        def append_line(text):
            time.sleep(0.03)
            with open("@TMP@/journal.txt", "a") as f:
                f.write(text + "\\n")
        def read_journal():
            with open("@TMP@/journal.txt") as f:
                return f.read().splitlines()
        """,
        """
        append_line("first")
        append_line("second")
        read_journal()
        """,
        lambda o: shown(o) == "['first', 'second']",
    ),
    case(
        "method_call_value_after_discarded_method_calls",
        """
        import time
        class Cart:
            def __init__(self):
                self.items = []
            def add(self, sku):
                time.sleep(0.03)
                self.items.append(sku)
            def count(self):
                return len(self.items)
        cart = Cart()
        def fill(c):
            c.add("apple")
            c.add("pear")
        """,
        """
        fill(cart)
        cart.count()
        """,
        lambda o: shown(o) == "2",
    ),
    case(
        "print_of_state_on_last_line",
        STEPS,
        """
        log_step("fit")
        log_step("score")
        print(summarize_log())
        """,
        lambda o: out(o) == "fit -> score\n",
    ),
    case(
        "last_call_changes_rate_read_by_slow_statement",
        """
        import time
        cache = {"rate": 1.0}
        def current_rate():
            c = cache
            time.sleep(0.1)
            return c["rate"]
        def set_rate(r):
            c = cache
            c["rate"] = r
            return r
        """,
        """
        before = current_rate()
        set_rate(2.0)
        """,
        lambda o: value(o, "before") == 1.0 and shown(o) == "2.0",
    ),
    case(
        "last_call_clears_log_through_bound_method",
        """
        import time
        LOG = ["a", "b", "c"]
        clear_log = LOG.clear
        def slow_len():
            time.sleep(0.1)
            return len(LOG)
        """,
        """
        n = slow_len()
        clear_log()
        """,
        lambda o: value(o, "n") == 3 and value(o, "LOG") == [],
    ),
    case(
        "last_line_shuffle_after_slow_read",
        """
        import random, time
        deck = list(range(10))
        def slow_first(cards):
            time.sleep(0.1)
            return cards[:3]
        random.seed(11)
        """,
        """
        first = slow_first(deck)
        random.shuffle(deck)
        """,
        lambda o: value(o, "first") == [0, 1, 2] and value(o, "deck") != list(range(10)),
    ),
    case(
        "last_line_heappush_after_slow_min",
        """
        import heapq, time
        h = [3, 5, 8]
        def slow_min(heap):
            time.sleep(0.1)
            return heap[0]
        """,
        """
        smallest = slow_min(h)
        heapq.heappush(h, 1)
        """,
        lambda o: value(o, "smallest") == 3 and value(o, "h")[0] == 1,
    ),
    case(
        "last_line_numpy_shuffle_after_slow_head",
        """
        import time
        import numpy as np
        arr = np.arange(8)
        def slow_head(a):
            time.sleep(0.1)
            return a[:3].tolist()
        np.random.seed(2)
        """,
        """
        head = slow_head(arr)
        np.random.shuffle(arr)
        """,
        lambda o: value(o, "head") == [0, 1, 2],
    ),
    case(
        "underscore_is_the_previous_output",
        "base = 41\nbase + 1\n",
        """
        y = 1
        _ + y
        """,
        lambda o: shown(o) == "43",
    ),
]
