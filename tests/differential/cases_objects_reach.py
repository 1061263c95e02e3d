"""State reached through objects, continued: objects shared with earlier cells' names
several levels deep, bound methods handed to containers, ``map``, ``apply`` and
``reduce``, and registries filled by class definitions."""

from __future__ import annotations

from differential import case, value

KIND = "objects"

SLOW = """
import time
def slow_value(x, delay=0.1):
    time.sleep(delay)
    return x
"""

CASES = [
    case(
        "three_levels_deep_alias_from_earlier_cell",
        SLOW
        + """
registry = {"models": {"lr": {"params": [1]}}}
params = registry["models"]["lr"]["params"]
""",
        """
        params.append(slow_value(2))
        n_params = len(registry["models"]["lr"]["params"])
        """,
        lambda o: value(o, "n_params") == 2,
    ),
    case(
        "member_of_team_in_org_renamed",
        SLOW
        + """
class Person:
    def __init__(self, name):
        self.name = name
    def rename(self, new):
        self.name = new
class Team:
    def __init__(self, names):
        self.members = [Person(n) for n in names]
org = {"teams": {"data": Team(["ann", "bob"])}}
lead = org["teams"]["data"].members[0]
""",
        """
        lead.rename(slow_value("zed"))
        roster = [m.name for m in org["teams"]["data"].members]
        """,
        lambda o: value(o, "roster") == ["zed", "bob"],
    ),
    case(
        "closure_holds_global_list",
        SLOW
        + """
history = []
def make_logger(sink):
    def log(event):
        time.sleep(0.05)
        sink.append(event)
        return len(sink)
    return log
log = make_logger(history)
""",
        """
        r = log("opened")
        n_events = len(history)
        """,
        lambda o: value(o, "n_events") == 1,
    ),
    case(
        "bound_method_called_through_dict",
        SLOW
        + """
class Cart:
    def __init__(self):
        self.items = []
    def add(self, sku):
        time.sleep(0.05)
        self.items.append(sku)
        return len(self.items)
cart = Cart()
actions = {"add": cart.add}
""",
        """
        count = actions["add"]("tea")
        in_cart = list(cart.items)
        """,
        lambda o: value(o, "in_cart") == ["tea"],
    ),
    case(
        "bound_method_mapped_over_items",
        """
        import time
        class Cart:
            def __init__(self):
                self.items = []
            def add(self, sku):
                time.sleep(0.03)
                self.items.append(sku)
                return len(self.items)
        cart = Cart()
        """,
        """
        counts = list(map(cart.add, ["tea", "jam"]))
        in_cart = list(cart.items)
        """,
        lambda o: value(o, "in_cart") == ["tea", "jam"],
    ),
    case(
        "dataframe_apply_with_recording_helper",
        """
        import time
        import pandas as pd
        df = pd.DataFrame({"a": [1, 2, 3]})
        seen_rows = []
        def track(row):
            time.sleep(0.02)
            seen_rows.append(int(row["a"]))
            return row["a"] * 2
        """,
        """
        doubled = df.apply(track, axis=1).tolist()
        n_seen = len(seen_rows)
        """,
        lambda o: value(o, "n_seen") == 3,
    ),
    case(
        "reduce_merges_into_existing_dict",
        SLOW
        + """
from functools import reduce
base = {"a": 1}
parts = [{"b": 2}, {"c": 3}]
def merge(acc, d):
    time.sleep(0.05)
    acc.update(d)
    return acc
""",
        """
        merged = reduce(merge, parts, base)
        keys = sorted(base)
        """,
        lambda o: value(o, "keys") == ["a", "b", "c"],
    ),
    case(
        "subclass_definitions_fill_registry",
        """
        import time
        class Plugin:
            registry = []
            def __init_subclass__(cls, **kwargs):
                super().__init_subclass__(**kwargs)
                time.sleep(0.05)
                Plugin.registry.append(cls.__name__)
        """,
        """
        class CsvLoader(Plugin):
            pass
        class JsonLoader(Plugin):
            pass
        names = list(Plugin.registry)
        """,
        lambda o: value(o, "names") == ["CsvLoader", "JsonLoader"],
    ),
    case(
        "bound_append_kept_as_object_attribute",
        SLOW
        + """
class Pipeline:
    def __init__(self, sink):
        self.emit = sink.append
    def process(self, x):
        time.sleep(0.05)
        self.emit(x.upper())
        return x
rows = []
pipe = Pipeline(rows)
""",
        """
        done = pipe.process("a")
        n_rows = len(rows)
        """,
        lambda o: value(o, "n_rows") == 1,
    ),
    case(
        "callbacks_list_of_bound_methods",
        SLOW
        + """
results = []
on_done = [results.append]
def fire(x):
    time.sleep(0.05)
    for cb in on_done:
        cb(x)
    return x
""",
        """
        fired = fire("job-1")
        n_results = len(results)
        """,
        lambda o: value(o, "n_results") == 1,
    ),
    case(
        "partial_of_bound_method",
        SLOW
        + """
from functools import partial
class Cart:
    def __init__(self):
        self.items = []
    def add(self, sku):
        time.sleep(0.05)
        self.items.append(sku)
        return len(self.items)
cart = Cart()
add_tea = partial(cart.add, "tea")
""",
        """
        c = add_tea()
        in_cart = list(cart.items)
        """,
        lambda o: value(o, "in_cart") == ["tea"],
    ),
    case(
        "attribute_of_attribute_alias",
        SLOW
        + """
class Store:
    def __init__(self):
        self.buffer = []
class App:
    def __init__(self):
        self.store = Store()
app = App()
buf = app.store.buffer
""",
        """
        buf.extend(slow_value([1, 2]))
        size = len(app.store.buffer)
        """,
        lambda o: value(o, "size") == 2,
    ),
    case(
        "view_of_a_view_written",
        SLOW + "import numpy as np\narr = np.arange(8)\nv = arr[::2]\nw = v[1:]\n",
        """
        w[:] = slow_value(0)
        total = int(arr.sum())
        """,
        lambda o: value(o, "total") == 28 - (2 + 4 + 6),
    ),
    case(
        "instance_dict_alias",
        SLOW
        + """
class Params:
    def __init__(self):
        self.alpha = 1
p = Params()
attrs = p.__dict__
""",
        """
        attrs["alpha"] = slow_value(5)
        alpha = p.alpha
        """,
        lambda o: value(o, "alpha") == 5,
    ),
    case(
        "two_closures_share_a_cell",
        SLOW
        + """
def make_pair():
    count = 0
    def inc():
        nonlocal count
        time.sleep(0.05)
        count += 1
        return count
    def get():
        return count
    return inc, get
inc, get = make_pair()
""",
        """
        a = inc()
        seen = get()
        """,
        lambda o: value(o, "seen") == 1,
    ),
    case(
        "sort_key_records_calls",
        SLOW
        + """
calls = {}
def by_len(s):
    time.sleep(0.01)
    calls[s] = calls.get(s, 0) + 1
    return len(s)
""",
        """
        ordered = sorted(["pear", "fig", "banana"], key=by_len)
        n_calls = sum(calls.values())
        """,
        lambda o: value(o, "n_calls") == 3,
    ),
    case(
        "defaultdict_read_inserts_key",
        SLOW
        + """
from collections import defaultdict
def empty_group():
    time.sleep(0.05)
    return []
groups = defaultdict(empty_group)
""",
        """
        new_group = groups["new"]
        keys = list(groups)
        """,
        lambda o: value(o, "keys") == ["new"],
    ),
    case(
        "dict_subclass_missing_loads_on_read",
        SLOW
        + """
class LazyTables(dict):
    loads = 0
    def __missing__(self, name):
        time.sleep(0.05)
        LazyTables.loads += 1
        self[name] = name.upper()
        return self[name]
tables = LazyTables()
""",
        """
        sales = tables["sales"]
        n_loaded = len(tables)
        """,
        lambda o: value(o, "n_loaded") == 1,
    ),
    case(
        "getattr_hook_loads_lazily",
        SLOW
        + """
class LazyConfig:
    def __init__(self):
        self.loaded = []
    def __getattr__(self, name):
        time.sleep(0.05)
        self.loaded.append(name)
        value = name * 2
        setattr(self, name, value)
        return value
conf = LazyConfig()
""",
        """
        host = conf.host
        loaded = list(conf.loaded)
        """,
        lambda o: value(o, "loaded") == ["host"],
    ),
    case(
        "memoryview_of_an_earlier_cell",
        "buf = bytearray(b'abc')\nmv = memoryview(buf)\n",
        """
        mv[0] = ord("z")
        text = bytes(buf).decode()
        """,
        lambda o: value(o, "text") == "zbc",
    ),
    case(
        "weakref_proxy_of_an_earlier_cell",
        """
        import weakref
        class Model:
            def __init__(self):
                self.fitted = False
        model = Model()
        handle = weakref.proxy(model)
        """,
        """
        handle.fitted = True
        status = model.fitted
        """,
        lambda o: value(o, "status") is True,
    ),
    case(
        "chainmap_over_earlier_dicts",
        SLOW
        + """
from collections import ChainMap
defaults = {"x": 1, "y": 2}
overrides = {}
cfg = ChainMap(overrides, defaults)
""",
        """
        overrides["x"] = slow_value(10)
        x = cfg["x"]
        """,
        lambda o: value(o, "x") == 10,
    ),
    case(
        "filter_object_sees_later_append",
        "data = [1, 5, 8]\n",
        """
        big = filter(lambda v: v > 4, data)
        data.append(10)
        picked = list(big)
        """,
        lambda o: value(o, "picked") == [5, 8, 10],
    ),
]
