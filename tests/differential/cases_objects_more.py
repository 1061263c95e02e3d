"""State reached through objects, continued: observers, cached properties, dataclasses,
setattr in helpers, context-manager objects, coroutines, shallow copies."""

from __future__ import annotations

from differential import case, value

KIND = "objects"

CASES = [
    case(
        "observers_notified_through_global_list",
        """
        import time
        class Watcher:
            def __init__(self):
                self.seen = []
            def notify(self, event):
                time.sleep(0.03)
                self.seen.append(event)
        audit = Watcher()
        WATCHERS = [audit]
        def publish(event):
            for w in WATCHERS:
                w.notify(event)
            return event
        """,
        """
        e1 = publish("created")
        e2 = publish("paid")
        trail = list(audit.seen)
        """,
        lambda o: value(o, "trail") == ["created", "paid"],
    ),
    case(
        "cached_property_computed_once",
        """
        import functools, time
        class Report:
            builds = 0
            def __init__(self, rows):
                self.rows = rows
            @functools.cached_property
            def totals(self):
                time.sleep(0.05)
                Report.builds += 1
                return sum(self.rows)
        rep = Report([1, 2, 3])
        """,
        """
        t1 = rep.totals
        t2 = rep.totals
        builds = Report.builds
        """,
        lambda o: value(o, "builds") == 1 and value(o, "t2") == 6,
    ),
    case(
        "dataclass_default_factory_mutated_by_method",
        """
        import time
        from dataclasses import dataclass, field
        @dataclass
        class Basket:
            items: list = field(default_factory=list)
            def add(self, item):
                time.sleep(0.03)
                self.items.append(item)
                return len(self.items)
        basket = Basket()
        def fill(b, things):
            for t in things:
                b.add(t)
            return len(things)
        """,
        """
        added = fill(basket, ["tea", "jam"])
        n_items = len(basket.items)
        """,
        lambda o: value(o, "n_items") == 2,
    ),
    case(
        "setattr_in_helper_by_name",
        """
        import time
        class Settings:
            def __init__(self):
                self.verbose = False
        settings = Settings()
        def configure(**options):
            time.sleep(0.05)
            for k, v in options.items():
                setattr(settings, k, v)
        def is_verbose():
            return settings.verbose
        """,
        """
        configure(verbose=True)
        loud = is_verbose()
        """,
        lambda o: value(o, "loud") is True,
    ),
    case(
        "context_manager_object_counts_depth",
        """
        import time
        class Tracker:
            def __init__(self):
                self.entered = 0
            def __enter__(self):
                time.sleep(0.03)
                self.entered += 1
                return self
            def __exit__(self, *exc):
                return False
        track = Tracker()
        def timed_sum(xs):
            with track:
                return sum(xs)
        """,
        """
        s1 = timed_sum([1, 2])
        s2 = timed_sum([3])
        entries = track.entered
        """,
        lambda o: value(o, "entries") == 2,
    ),
    case(
        "coroutine_averager_with_send",
        """
        import time
        def averager():
            total = count = 0
            avg = None
            while True:
                x = yield avg
                time.sleep(0.02)
                total += x
                count += 1
                avg = total / count
        acc = averager()
        next(acc)
        """,
        """
        a1 = acc.send(10)
        a2 = acc.send(30)
        """,
        lambda o: (value(o, "a1"), value(o, "a2")) == (10.0, 20.0),
    ),
    case(
        "shallow_copy_shares_inner_lists",
        "groups = {'a': [1], 'b': [2]}\n",
        """
        snapshot = dict(groups)
        snapshot["a"].append(99)
        a_now = list(groups["a"])
        """,
        lambda o: value(o, "a_now") == [1, 99],
    ),
    case(
        "slice_of_list_of_lists_shares_rows",
        "table = [[1, 2], [3, 4], [5, 6]]\n",
        """
        tail = table[1:]
        tail[0].append(0)
        widths = [len(r) for r in table]
        """,
        lambda o: value(o, "widths") == [2, 3, 2],
    ),
    case(
        "dict_keys_view_sees_later_insert",
        "inventory = {'apple': 3}\n",
        """
        keys = inventory.keys()
        inventory["pear"] = 1
        n_keys = len(keys)
        """,
        lambda o: value(o, "n_keys") == 2,
    ),
    case(
        "pandas_accessor_registered_then_used",
        """
        import pandas as pd
        pts = pd.DataFrame({"lat": [10.0, 20.0], "lon": [30.0, 50.0]})
        """,
        """
        @pd.api.extensions.register_dataframe_accessor("geo")
        class GeoAccessor:
            def __init__(self, frame):
                self._frame = frame
            @property
            def center(self):
                return (float(self._frame.lat.mean()), float(self._frame.lon.mean()))
        mid = pts.geo.center
        """,
        lambda o: value(o, "mid") == (15.0, 40.0),
    ),
    case(
        "library_class_monkeypatched_then_called",
        """
        import pandas as pd
        orders = pd.DataFrame({"qty": [1, 2], "price": [3.0, 4.0]})
        """,
        """
        pd.DataFrame.revenue = lambda self: float((self.qty * self.price).sum())
        total = orders.revenue()
        """,
        lambda o: value(o, "total") == 11.0,
    ),
    case(
        "singledispatch_registered_then_called",
        """
        from functools import singledispatch
        @singledispatch
        def describe(x):
            return "thing"
        """,
        """
        @describe.register
        def _(x: int):
            return "integer"
        label = describe(5)
        """,
        lambda o: value(o, "label") == "integer",
    ),
]
