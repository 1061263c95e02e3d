"""Process-wide state (2/2): pandas and numpy options, os.environ, warnings filters, logging."""

from __future__ import annotations

from differential import case, out, value

KIND = "process"

FRAME = """
import time
import numpy as np
import pandas as pd
df = pd.DataFrame({"x": [1.23456, 2.5, 3.14159], "y": [10.0, 20.5, 30.25]})
"""

CASES = [
    case(
        "pandas_max_rows_then_repr",
        FRAME + "s = pd.Series(range(40))\n",
        """
        pd.set_option("display.max_rows", 6)
        shown = repr(s)
        n_lines = len(shown.splitlines())
        """,
        lambda o: ".." in value(o, "shown") and value(o, "n_lines") == 8,
    ),
    case(
        "pandas_precision_then_to_string",
        FRAME,
        """
        pd.set_option("display.precision", 2)
        summary = df.describe().to_string()
        """,
        lambda o: "2.29" in value(o, "summary") and "2.292" not in value(o, "summary"),
    ),
    case(
        "pandas_float_format_in_helper",
        FRAME
        + """
def render(frame):
    time.sleep(0.02)
    return frame.to_string()
""",
        """
        pd.set_option("display.float_format", "{:.1f}".format)
        text = render(df)
        """,
        lambda o: "1.2" in value(o, "text") and "1.23" not in value(o, "text"),
    ),
    case(
        "pandas_option_context_then_plain",
        FRAME,
        """
        with pd.option_context("display.precision", 1):
            short = repr(df)
        full = repr(df)
        differ = short != full
        """,
        lambda o: value(o, "differ") is True,
    ),
    case(
        "numpy_print_precision",
        FRAME + "arr = np.array([1.123456, 2.5, 3.75])\n",
        """
        np.set_printoptions(precision=2)
        text = repr(arr)
        """,
        lambda o: value(o, "text") == "array([1.12, 2.5 , 3.75])",
    ),
    case(
        "numpy_seterr_ignore_divide",
        FRAME,
        """
        np.seterr(divide="ignore")
        ratio = np.array([1.0, 2.0]) / np.array([0.0, 1.0])
        print("ratio", ratio)
        """,
        lambda o: o["stderr"] == "" and "inf" in out(o),
    ),
    case(
        "numpy_seterr_raise",
        FRAME,
        """
        old = np.seterr(invalid="raise")
        logs = np.log(np.array([1.0, -1.0]))
        """,
        lambda o: o["error"][0] == "FloatingPointError",
    ),
    case(
        "environ_read_by_helper",
        """
        import os, time
        def get_mode():
            time.sleep(0.02)
            return os.environ.get("APP_MODE", "prod")
        """,
        """
        os.environ["APP_MODE"] = "test"
        mode = get_mode()
        """,
        lambda o: value(o, "mode") == "test",
    ),
    case(
        "environ_setdefault_then_path",
        """
        import os
        def data_path(name):
            return os.path.join(os.getenv("DATA_DIR", "/nowhere"), name)
        """,
        """
        os.environ.setdefault("DATA_DIR", "@TMP@")
        path = data_path("x.csv")
        exists_dir = os.path.isdir(os.path.dirname(path))
        """,
        lambda o: value(o, "exists_dir") is True,
    ),
    case(
        "warnings_ignored_by_setup_helper",
        """
        import time, warnings
        def legacy_api(x):
            warnings.warn("legacy_api is deprecated", UserWarning)
            return x * 2
        def setup_notebook():
            time.sleep(0.05)
            warnings.simplefilter("ignore")
        """,
        """
        setup_notebook()
        value_ = legacy_api(3)
        """,
        lambda o: o["stderr"] == "" and value(o, "value_") == 6,
    ),
    case(
        "warnings_as_errors",
        """
        import warnings
        def legacy_api(x):
            warnings.warn("legacy_api is deprecated", UserWarning)
            return x * 2
        """,
        """
        warnings.filterwarnings("error", category=UserWarning)
        result = legacy_api(3)
        """,
        lambda o: o["error"][:2] == ("UserWarning", "legacy_api is deprecated"),
    ),
    case(
        "logging_basic_config_to_stdout",
        """
        import logging, sys, time
        def process_batch(xs):
            time.sleep(0.02)
            logging.getLogger("etl").info("processing %d rows", len(xs))
            return sum(xs)
        """,
        """
        logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(name)s:%(message)s",
                            stream=sys.stdout, force=True)
        total = process_batch([1, 2, 3])
        """,
        lambda o: out(o) == "INFO:etl:processing 3 rows\n",
    ),
    case(
        "logger_level_and_file_handler",
        """
        import logging, time
        logging.getLogger("pipeline").addHandler(logging.FileHandler("@TMP@/run.log"))
        def step(name):
            time.sleep(0.02)
            logging.getLogger("pipeline").debug("step %s", name)
            return name
        """,
        """
        logging.getLogger("pipeline").setLevel(logging.DEBUG)
        done = step("load")
        for h in logging.getLogger("pipeline").handlers:
            h.flush()
        with open("@TMP@/run.log") as f:
            log_text = f.read()
        """,
        lambda o: value(o, "log_text") == "step load\n",
    ),
    case(
        "pandas_options_attribute_style",
        FRAME
        + """
def render(frame):
    time.sleep(0.02)
    return frame.to_string()
""",
        """
        pd.options.display.precision = 1
        text = render(df)
        """,
        lambda o: "1.2 " in value(o, "text") and "1.23" not in value(o, "text"),
    ),
    case(
        "catch_warnings_in_one_statement_while_another_warns",
        """
        import time, warnings
        def noisy(x, delay):
            time.sleep(delay)
            warnings.warn(f"noisy {x}")
            return x
        """,
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = noisy(1, 0.1)
        b = noisy(2, 0.05)
        """,
        lambda o: "UserWarning: noisy 2" in o["stderr"] and "noisy 1" not in o["stderr"],
    ),
    case(
        "numpy_printoptions_context",
        FRAME + "arr = np.array([3.14159, 2.71828])\n",
        """
        with np.printoptions(precision=2):
            short = repr(arr)
        full = repr(arr)
        """,
        lambda o: value(o, "short") == "array([3.14, 2.72])" and "3.14159" in value(o, "full"),
    ),
    case(
        "environ_update_then_helper",
        """
        import os, time
        def connection_string():
            time.sleep(0.02)
            return f"{os.environ.get('DB_HOST', '?')}:{os.environ.get('DB_PORT', '?')}"
        """,
        """
        os.environ.update({"DB_HOST": "db.local", "DB_PORT": "5433"})
        conn = connection_string()
        """,
        lambda o: value(o, "conn") == "db.local:5433",
    ),
    case(
        "numpy_print_options_set_in_helper",
        FRAME
        + """
arr = np.array([1.23456, 2.5])
def notebook_style():
    time.sleep(0.05)
    np.set_printoptions(precision=1)
""",
        """
        notebook_style()
        text = repr(arr)
        """,
        lambda o: value(o, "text") == "array([1.2, 2.5])",
    ),
    case(
        "pandas_option_set_in_helper",
        FRAME
        + """
def notebook_style():
    time.sleep(0.05)
    pd.set_option("display.precision", 1)
""",
        """
        notebook_style()
        text = df.to_string()
        """,
        lambda o: "1.2 " in value(o, "text") and "1.23" not in value(o, "text"),
    ),
    case(
        "thread_local_user",
        """
        import threading, time
        local = threading.local()
        def set_user(u):
            time.sleep(0.02)
            local.user = u
        def get_user():
            return getattr(local, "user", None)
        """,
        """
        set_user("ann")
        who = get_user()
        """,
        lambda o: value(o, "who") == "ann",
    ),
    case(
        "pandas_get_option_after_set",
        FRAME,
        """
        pd.set_option("display.max_rows", 7)
        limit = pd.get_option("display.max_rows")
        """,
        lambda o: value(o, "limit") == 7,
    ),
    case(
        "numpy_geterr_after_seterr",
        FRAME,
        """
        old = np.seterr(over="raise")
        mode = np.geterr()["over"]
        """,
        lambda o: value(o, "mode") == "raise",
    ),
    case(
        "gc_disabled_then_queried",
        "import gc\n",
        """
        gc.disable()
        enabled = gc.isenabled()
        gc.enable()
        """,
        lambda o: value(o, "enabled") is False,
    ),
    case(
        "socket_default_timeout",
        "import socket\n",
        """
        socket.setdefaulttimeout(5.0)
        timeout = socket.getdefaulttimeout()
        socket.setdefaulttimeout(None)
        """,
        lambda o: value(o, "timeout") == 5.0,
    ),
    case(
        "module_injected_into_sys_modules",
        "import sys, types\n",
        """
        sys.modules["fake_settings"] = types.SimpleNamespace(level=3)
        import fake_settings
        lvl = fake_settings.level
        del sys.modules["fake_settings"]
        """,
        lambda o: value(o, "lvl") == 3,
    ),
]
