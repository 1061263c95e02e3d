"""Errors and warnings as the plain cell shows them: type, message, line, and stderr."""

from __future__ import annotations

import pytest

from differential import case, err, out, value

KIND = "errors"

PARSE = """
import time
def parse(s):
    time.sleep(0.01)
    return int(s)
"""

CASES = [
    case(
        "helper_raises_value_error",
        PARSE,
        """
        a = parse("1")
        b = parse("x")
        c = parse("3")
        """,
        lambda o: err(o)[:2] == ("ValueError", "invalid literal for int() with base 10: 'x'"),
    ),
    case(
        "fanned_out_loop_raises_midway",
        PARSE,
        """
        out = {}
        for s in ["1", "2", "x", "4", "y"]:
            out[s] = parse(s)
        """,
        lambda o: "'x'" in err(o)[1] and value(o, "out") == {"1": 1, "2": 2},
    ),
    case(
        "comprehension_raises_at_first_bad",
        PARSE + "raw = ['5', '6', 'bad', '7', 'worse']\n",
        """
        vals = [parse(s) for s in raw]
        done = True
        """,
        lambda o: "'bad'" in err(o)[1] and "done" not in o["namespace"]["names"],
    ),
    case(
        "key_error_in_lookup_helper",
        """
        PRICES = {"apple": 1.2, "pear": 0.8}
        def lookup(item):
            return PRICES[item]
        """,
        """
        apple = lookup("apple")
        kiwi = lookup("kiwi")
        """,
        lambda o: err(o)[:2] == ("KeyError", "'kiwi'"),
    ),
    case(
        "custom_exception_class",
        """
        class ValidationError(Exception):
            pass
        def validate(row):
            if row["qty"] < 0:
                raise ValidationError(f"negative qty in row {row['id']}")
            return row["qty"]
        """,
        """
        q1 = validate({"id": 1, "qty": 3})
        q2 = validate({"id": 2, "qty": -4})
        """,
        lambda o: err(o)[:2] == ("ValidationError", "negative qty in row 2"),
    ),
    case(
        "exception_with_several_arguments",
        """
        def check_row(i, row):
            if None in row:
                raise ValueError("missing value", {"row": i})
            return len(row)
        """,
        """
        n0 = check_row(0, [1, 2])
        n1 = check_row(1, [1, None])
        """,
        lambda o: err(o)[:2] == ("ValueError", "('missing value', {'row': 1})"),
    ),
    case(
        "zero_division_in_ratio",
        """
        def ratio(a, b):
            return a / b
        """,
        """
        r1 = ratio(3, 4)
        r2 = ratio(1, 0)
        r3 = ratio(5, 5)
        """,
        lambda o: err(o)[0] == "ZeroDivisionError" and value(o, "r1") == 0.75,
    ),
    case(
        "error_two_frames_deep",
        """
        def inner(x):
            return x["value"] * 2
        def outer(x):
            return inner(x) + 1
        """,
        """
        good = outer({"value": 3})
        bad = outer({"val": 3})
        """,
        lambda o: err(o)[:2] == ("KeyError", "'value'") and err(o)[2][0] == "other",
    ),
    case(
        "warning_from_helper",
        """
        import warnings
        import pandas as pd
        def check(df):
            if df.isna().any().any():
                warnings.warn("missing values found")
            return len(df)
        frame = pd.DataFrame({"a": [1.0, None]})
        """,
        """
        n = check(frame)
        print("rows", n)
        """,
        lambda o: "UserWarning: missing values found" in o["stderr"],
    ),
    case(
        "runtime_warning_in_cell_statement",
        "import numpy as np\n",
        """
        x = np.array([1.0, 0.0])
        inv = 1 / x
        """,
        lambda o: "RuntimeWarning: divide by zero" in o["stderr"],
    ),
    case(
        "warning_with_stacklevel_two",
        """
        import warnings
        def old_mean(xs):
            warnings.warn("old_mean is deprecated; use statistics.mean", FutureWarning,
                          stacklevel=2)
            return sum(xs) / len(xs)
        """,
        """
        data = [1, 2, 3]
        m = old_mean(data)
        """,
        lambda o: "FutureWarning: old_mean is deprecated" in o["stderr"],
    ),
    case(
        "error_after_helper_prints",
        """
        import time
        def step(name):
            time.sleep(0.02)
            print("running", name)
            return name
        def fail():
            raise RuntimeError("disk full")
        """,
        """
        s1 = step("extract")
        s2 = fail()
        s3 = step("load")
        """,
        lambda o: out(o) == "running extract\n" and err(o)[:2] == ("RuntimeError", "disk full"),
    ),
    case(
        "missing_column_after_slow_statement",
        """
        import time
        import pandas as pd
        df = pd.DataFrame({"a": [1, 2]})
        def slow_total(frame):
            time.sleep(0.1)
            return int(frame["a"].sum())
        """,
        """
        total = slow_total(df)
        col = df["missing"]
        """,
        lambda o: err(o)[:2] == ("KeyError", "'missing'") and value(o, "total") == 3,
    ),
    case(
        "loop_appending_raises_in_worker",
        """
        def risky(x):
            if x == 3:
                raise ArithmeticError(f"cannot handle {x}")
            return x * 10
        """,
        """
        results = []
        for x in range(6):
            results.append(risky(x))
        """,
        lambda o: err(o)[:2] == ("ArithmeticError", "cannot handle 3"),
    ),
    case(
        "assertion_with_message",
        "data = [4, 5]\n",
        """
        total = sum(data)
        assert total == 10, f"total is {total}"
        after = 1
        """,
        lambda o: err(o)[:2] == ("AssertionError", "total is 9"),
    ),
    case(
        "chained_exception",
        """
        def get_setting(cfg, key):
            try:
                return cfg[key]
            except KeyError as e:
                raise ValueError(f"no setting {key!r}") from e
        """,
        """
        cfg = {"a": 1}
        a = get_setting(cfg, "a")
        b = get_setting(cfg, "b")
        """,
        lambda o: err(o)[:2] == ("ValueError", "no setting 'b'"),
    ),
    case(
        "stop_iteration_from_next",
        "",
        """
        empty = []
        first = next(iter(empty))
        """,
        lambda o: err(o)[0] == "StopIteration",
    ),
    case(
        "generator_in_sum_raises",
        PARSE + "raw = ['1', '2', 'three']\n",
        """
        total = sum(parse(s) for s in raw)
        """,
        lambda o: "'three'" in err(o)[1],
    ),
    case(
        "missing_argument_type_error",
        "def area(w, h):\n    return w * h\n",
        """
        square = area(3, 3)
        oops = area(3)
        """,
        lambda o: err(o)[:2] == ("TypeError", "area() missing 1 required positional argument: 'h'"),
    ),
    case(
        "pandas_datetime_parse_error",
        "import pandas as pd\n",
        """
        good = pd.to_datetime(["2021-01-05"])
        bad = pd.to_datetime(["2021-13-45"], format="%Y-%m-%d")
        """,
        lambda o: err(o)[0] == "ValueError",
    ),
    case(
        "exception_with_two_required_arguments",
        """
        class ParseError(Exception):
            def __init__(self, line, reason):
                super().__init__(f"line {line}: {reason}")
                self.line = line
        def parse_line(i, text):
            if "," not in text:
                raise ParseError(i, "no comma")
            return text.split(",")
        """,
        """
        r0 = parse_line(0, "a,b")
        r1 = parse_line(1, "ab")
        """,
        lambda o: err(o)[:2] == ("ParseError", "line 1: no comma"),
    ),
    case(
        "warning_in_fanned_out_comprehension",
        """
        import time, warnings
        def check(x):
            time.sleep(0.01)
            if x < 0:
                warnings.warn("negative value")
            return abs(x)
        """,
        """
        vals = [check(x) for x in [1, -2, 3, -4]]
        """,
        lambda o: o["stderr"].count("UserWarning: negative value") == 1,
    ),
    case(
        "syntax_error_from_compile_in_helper",
        """
        def make_rule(expr):
            return compile(expr, "<rule>", "eval")
        """,
        """
        ok = make_rule("x > 1")
        bad = make_rule("x >")
        """,
        lambda o: err(o)[0] == "SyntaxError",
    ),
    case(
        "sys_exit_in_helper",
        """
        import sys
        def validate(n):
            if n < 0:
                sys.exit("negative input")
            return n
        """,
        """
        ok = validate(3)
        bad = validate(-1)
        after = 1
        """,
        lambda o: err(o)[:2] == ("SystemExit", "negative input"),
    ),
    case(
        "deprecation_warning_attributed_to_cell",
        """
        import warnings
        def old_api(x):
            warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)
            return x + 1
        """,
        """
        a = old_api(1)
        b = a * 2
        """,
        lambda o: "DeprecationWarning: old_api is deprecated" in o["stderr"],
    ),
    case(
        "merge_validation_error",
        """
        import pandas as pd
        left = pd.DataFrame({"k": [1, 1], "a": [1, 2]})
        right = pd.DataFrame({"k": [1], "b": [3]})
        """,
        """
        ok = pd.merge(right, right, on="k", validate="one_to_one")
        bad = pd.merge(left, right, on="k", validate="one_to_one")
        """,
        lambda o: err(o)[0] == "MergeError",
    ),
    case(
        "error_in_property_getter",
        """
        class Sensor:
            def __init__(self, raw):
                self.raw = raw
            @property
            def celsius(self):
                if self.raw is None:
                    raise ValueError("sensor offline")
                return (self.raw - 32) / 1.8
        s1, s2 = Sensor(212), Sensor(None)
        """,
        """
        t1 = s1.celsius
        t2 = s2.celsius
        """,
        lambda o: err(o)[:2] == ("ValueError", "sensor offline") and value(o, "t1") == 100.0,
    ),
    case(
        "keyboard_interrupt_raised_by_helper",
        """
        def guarded(x):
            if x > 2:
                raise KeyboardInterrupt
            return x
        """,
        """
        a = guarded(1)
        b = guarded(5)
        c = guarded(2)
        """,
        lambda o: err(o)[0] == "KeyboardInterrupt" and value(o, "a") == 1,
    ),
    case(
        "exception_group_from_validation",
        """
        def validate_all(rows):
            problems = [ValueError(f"row {i}") for i, r in enumerate(rows) if r is None]
            if problems:
                raise ExceptionGroup("invalid rows", problems)
            return len(rows)
        """,
        """
        n_ok = validate_all([1, 2])
        n_bad = validate_all([1, None, None])
        """,
        lambda o: err(o)[:2] == ("ExceptionGroup", "invalid rows (2 sub-exceptions)"),
        # Known gap: IPython prints exception groups with Python's own traceback of the
        # whole stack, IPython's run_code frame included, which differs for an awaiting
        # cell (`await eval(...)`, the magic's frames). Same type, message and line.
        marks=(pytest.mark.xfail(strict=True, reason="IPython prints exception groups "
                                 "with its own frames; an awaiting cell's differ"),),
    ),
    case(
        "always_filter_then_warnings_in_fan_out",
        """
        import time, warnings
        def check(x):
            time.sleep(0.01)
            if x < 0:
                warnings.warn("negative value")
            return abs(x)
        """,
        """
        warnings.simplefilter("always")
        vals = [check(x) for x in [1, -2, 3, -4]]
        """,
        lambda o: o["stderr"].count("UserWarning: negative value") == 2,
    ),
]
