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
]
