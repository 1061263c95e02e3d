"""Names used inside strings: ``df.query('... @name')``, ``df.eval``, ``pd.eval``."""

from __future__ import annotations

from differential import case, value

KIND = "strings"

PEOPLE = """
import time
import pandas as pd
people = pd.DataFrame({"name": ["ann", "bob", "cy", "dee", "eve"],
                       "age": [23, 35, 41, 58, 67],
                       "city": ["oslo", "rome", "oslo", "lima", "rome"]})
def slow_cutoff(x):
    time.sleep(0.1)
    return x
"""

CASES = [
    case(
        "query_with_local_cutoff",
        PEOPLE,
        """
        cutoff = 30
        adults = people.query("age > @cutoff")
        n_adults = len(adults)
        """,
        lambda o: value(o, "n_adults") == 4,
    ),
    case(
        "query_cutoff_from_slow_helper",
        PEOPLE,
        """
        cutoff = slow_cutoff(50)
        seniors = people.query("age >= @cutoff")["name"].tolist()
        """,
        lambda o: value(o, "seniors") == ["dee", "eve"],
    ),
    case(
        "query_cutoff_rebound_later",
        PEOPLE,
        """
        cutoff = slow_cutoff(30)
        young = people.query("age < @cutoff")["name"].tolist()
        cutoff = 60
        old = people.query("age >= @cutoff")["name"].tolist()
        """,
        lambda o: value(o, "young") == ["ann"] and value(o, "old") == ["eve"],
    ),
    case(
        "query_in_list",
        PEOPLE,
        """
        keep = ["oslo", "lima"]
        selected = people.query("city in @keep")
        n = len(selected)
        """,
        lambda o: value(o, "n") == 3,
    ),
    case(
        "query_dict_lookup",
        PEOPLE,
        """
        limits = {"min": 30, "max": 60}
        middle = people.query("age >= @limits['min'] and age <= @limits['max']")
        who = middle["name"].tolist()
        """,
        lambda o: value(o, "who") == ["bob", "cy", "dee"],
    ),
    case(
        "eval_with_local_factor",
        PEOPLE,
        """
        factor = slow_cutoff(12)
        months = people.eval("age * @factor")
        total_months = int(months.sum())
        """,
        lambda o: value(o, "total_months") == 224 * 12,
    ),
    case(
        "eval_assign_new_column",
        PEOPLE,
        """
        base_year = slow_cutoff(2024)
        with_birth = people.eval("born = @base_year - age")
        years = with_birth["born"].tolist()
        """,
        lambda o: value(o, "years")[0] == 2001,
    ),
    case(
        "pd_eval_of_two_series",
        "import pandas as pd\n",
        """
        a = pd.Series([1, 2, 3])
        b = pd.Series([10, 20, 30])
        s = pd.eval("a + b")
        total = int(s.sum())
        """,
        lambda o: value(o, "total") == 66,
    ),
    case(
        "pd_eval_with_frames",
        """
        import pandas as pd
        left = pd.DataFrame({"x": [1, 2]})
        right = pd.DataFrame({"x": [5, 7]})
        """,
        """
        scale = 2
        combined = pd.eval("left.x * scale + right.x")
        out = combined.tolist()
        """,
        lambda o: value(o, "out") == [7, 11],
    ),
    case(
        "query_backticked_column_and_bounds",
        """
        import pandas as pd
        sales = pd.DataFrame({"unit price": [3.0, 8.5, 12.0, 20.0], "qty": [1, 4, 2, 7]})
        """,
        """
        lo, hi = 5, 15
        mid = sales.query("`unit price` > @lo and `unit price` < @hi")
        qty_mid = int(mid["qty"].sum())
        """,
        lambda o: value(o, "qty_mid") == 6,
    ),
    case(
        "query_name_bound_by_loop",
        PEOPLE,
        """
        counts = {}
        for town in ["oslo", "rome", "lima"]:
            counts[town] = len(people.query("city == @town"))
        """,
        lambda o: value(o, "counts") == {"oslo": 2, "rome": 2, "lima": 1},
    ),
    case(
        "query_name_changed_in_place",
        PEOPLE,
        """
        wanted = ["ann"]
        wanted.append(slow_cutoff("eve"))
        picked = people.query("name in @wanted")["age"].tolist()
        """,
        lambda o: value(o, "picked") == [23, 67],
    ),
    case(
        "pd_eval_after_slow_assignment",
        PEOPLE
        + """
def slow_series(values):
    time.sleep(0.1)
    return pd.Series(values)
""",
        """
        a = slow_series([1, 2, 3])
        b = pd.Series([10, 20, 30])
        c = pd.eval("a * 2 + b")
        total = int(c.sum())
        """,
        lambda o: value(o, "total") == 72,
    ),
    case(
        "eval_then_query_on_new_column",
        PEOPLE,
        """
        bonus = slow_cutoff(5)
        people2 = people.eval("score = age + @bonus")
        high = people2.query("score > @bonus * 10")["name"].tolist()
        """,
        lambda o: value(o, "high") == ["dee", "eve"],
    ),
    case(
        "helper_looks_up_globals_by_name",
        """
        import time
        rate = 0.1
        def lookup(name):
            time.sleep(0.02)
            return globals()[name]
        def slow_value(x):
            time.sleep(0.1)
            return x
        """,
        """
        rate = slow_value(0.3)
        current = lookup("rate")
        """,
        lambda o: value(o, "current") == 0.3,
    ),
    case(
        "helper_evaluates_expression_string",
        """
        import time
        price, qty = 2.0, 3
        def compute(expr):
            time.sleep(0.02)
            return eval(expr)
        def slow_value(x):
            time.sleep(0.1)
            return x
        """,
        """
        qty = slow_value(10)
        total = compute("price * qty")
        """,
        lambda o: value(o, "total") == 20.0,
    ),
    case(
        "format_map_of_globals_in_helper",
        """
        import time
        user = "ann"
        def greeting(template):
            time.sleep(0.02)
            return template.format_map(globals())
        def slow_value(x):
            time.sleep(0.1)
            return x
        """,
        """
        user = slow_value("bob")
        msg = greeting("hello {user}")
        """,
        lambda o: value(o, "msg") == "hello bob",
    ),
    case(
        "query_reads_object_attribute",
        PEOPLE
        + """
class Cfg:
    def __init__(self):
        self.threshold = 0
    def set_threshold(self, t):
        self.threshold = t
cfg = Cfg()
""",
        """
        cfg.set_threshold(slow_cutoff(50))
        older = people.query("age > @cfg.threshold")["name"].tolist()
        """,
        lambda o: value(o, "older") == ["dee", "eve"],
    ),
    case(
        "eval_inplace_with_local_scale",
        PEOPLE,
        """
        scale = slow_cutoff(2)
        people.eval("double_age = age * @scale", inplace=True)
        top = int(people["double_age"].max())
        """,
        lambda o: value(o, "top") == 134,
    ),
    case(
        "reader_chosen_by_name",
        """
        import pandas as pd
        frame = pd.DataFrame({"a": [1, 2, 3]})
        fmt = "csv"
        """,
        """
        frame.to_csv("@TMP@/data.csv", index=False)
        reader = getattr(pd, "read_" + fmt)
        back = reader("@TMP@/data.csv")
        n_back = len(back)
        """,
        lambda o: value(o, "n_back") == 3,
    ),
]
