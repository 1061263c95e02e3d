"""State reached through objects: class attributes, properties, getattr, bound methods,
registering decorators, functions in containers, local aliases of global containers."""

from __future__ import annotations

from differential import case, value

KIND = "objects"

CASES = [
    case(
        "class_attribute_through_type_self",
        """
        import time
        class Job:
            created = 0
            def __init__(self, name):
                time.sleep(0.03)
                self.name = name
                type(self).created += 1
                self.number = type(self).created
        """,
        """
        j1 = Job("extract")
        j2 = Job("load")
        total_jobs = Job.created
        """,
        lambda o: value(o, "total_jobs") == 2,
    ),
    case(
        "class_list_through_self",
        """
        import time
        class Tagger:
            tags = []
            def tag(self, t):
                time.sleep(0.03)
                self.tags.append(t)
                return len(self.tags)
        a_tagger = Tagger()
        b_tagger = Tagger()
        """,
        """
        k1 = a_tagger.tag("urgent")
        k2 = b_tagger.tag("billing")
        all_tags = list(Tagger.tags)
        """,
        lambda o: value(o, "all_tags") == ["urgent", "billing"],
    ),
    case(
        "property_getter_advances_reader",
        """
        import time
        class Reader:
            def __init__(self, lines):
                self._lines = list(lines)
                self.pos = 0
            @property
            def next_line(self):
                time.sleep(0.02)
                line = self._lines[self.pos]
                self.pos += 1
                return line
        r = Reader(["id,name", "1,ann", "2,bob"])
        """,
        """
        header = r.next_line
        first = r.next_line
        second = r.next_line
        """,
        lambda o: (value(o, "header"), value(o, "second")) == ("id,name", "2,bob"),
    ),
    case(
        "lazy_property_loads_once",
        """
        import time
        class Dataset:
            loads = 0
            def __init__(self, n):
                self.n = n
                self._data = None
            @property
            def data(self):
                if self._data is None:
                    time.sleep(0.05)
                    Dataset.loads += 1
                    self._data = list(range(self.n))
                return self._data
        ds = Dataset(5)
        """,
        """
        total = sum(ds.data)
        top = max(ds.data)
        loads = Dataset.loads
        """,
        lambda o: value(o, "loads") == 1,
    ),
    case(
        "getattr_method_call",
        """
        import time
        class Inventory:
            def __init__(self):
                self.items = {}
            def add(self, name, qty):
                time.sleep(0.03)
                self.items[name] = self.items.get(name, 0) + qty
                return self.items[name]
        inv = Inventory()
        """,
        """
        action = "add"
        apples = getattr(inv, action)("apples", 5)
        pears = getattr(inv, action)("pears", 2)
        stock = dict(inv.items)
        """,
        lambda o: value(o, "stock") == {"apples": 5, "pears": 2},
    ),
    case(
        "operator_methodcaller",
        """
        import time
        from operator import methodcaller
        class Account:
            def __init__(self, balance):
                self.balance = balance
            def deposit(self, amount):
                time.sleep(0.03)
                self.balance += amount
                return self.balance
        acct = Account(100)
        pay = methodcaller("deposit", 50)
        """,
        """
        after_pay = pay(acct)
        bonus = methodcaller("deposit", 10)(acct)
        final = acct.balance
        """,
        lambda o: value(o, "final") == 160,
    ),
    case(
        "bound_next_of_counter",
        """
        import itertools
        counter = itertools.count(100)
        tick = counter.__next__
        """,
        """
        invoice_a = tick()
        invoice_b = tick()
        invoice_c = tick()
        """,
        lambda o: (value(o, "invoice_a"), value(o, "invoice_c")) == (100, 102),
    ),
    case(
        "bound_next_called_in_helper",
        """
        import itertools, time
        counter = itertools.count(1)
        tick = counter.__next__
        def stamp(item, work):
            time.sleep(work)
            return (item, tick())
        """,
        """
        a = stamp("a", 0.1)
        b = stamp("b", 0.05)
        c = stamp("c", 0)
        """,
        lambda o: value(o, "c") == ("c", 3),
    ),
    case(
        "bound_set_add_in_helper",
        """
        import time
        seen = set()
        add = seen.add
        def process(batch):
            time.sleep(0.03)
            for x in batch:
                add(x)
            return len(batch)
        """,
        """
        n1 = process([1, 2, 3])
        n2 = process([3, 4])
        unique = len(seen)
        """,
        lambda o: value(o, "unique") == 4,
    ),
    case(
        "decorator_registers_into_object",
        """
        import time
        class Registry:
            def __init__(self):
                self.handlers = {}
            def add(self, fn):
                time.sleep(0.05)
                self.handlers[fn.__name__] = fn
                return fn
        registry = Registry()
        """,
        """
        @registry.add
        def clean(df):
            return df
        @registry.add
        def scale(df):
            return df
        registered = sorted(registry.handlers)
        """,
        lambda o: value(o, "registered") == ["clean", "scale"],
    ),
    case(
        "lambdas_in_list_read_late_global",
        """
        import time
        threshold = 10
        checks = [lambda v: v > threshold, lambda v: v % 2 == 0]
        def pick_threshold(values):
            time.sleep(0.1)
            return max(values)
        """,
        """
        threshold = pick_threshold([40, 100, 7])
        flags = [check(42) for check in checks]
        """,
        lambda o: value(o, "flags") == [False, True],
    ),
    case(
        "handlers_in_dict_change_global",
        """
        import time
        totals = {"sales": 0, "refunds": 0}
        def on_sale(x):
            time.sleep(0.03)
            totals["sales"] += x
            return x
        def on_refund(x):
            time.sleep(0.03)
            totals["refunds"] += x
            return x
        handlers = {"sale": on_sale, "refund": on_refund}
        """,
        """
        r1 = handlers["sale"](10)
        r2 = handlers["refund"](3)
        snapshot = dict(totals)
        """,
        lambda o: value(o, "snapshot") == {"sales": 10, "refunds": 3},
    ),
    case(
        "local_alias_of_global_container",
        """
        import time
        STATE = {"log": [], "count": 0}
        def record(event):
            buf = STATE["log"]
            time.sleep(0.03)
            buf.append(event)
            return len(buf)
        """,
        """
        a = record("start")
        b = record("stop")
        log_copy = list(STATE["log"])
        """,
        lambda o: value(o, "log_copy") == ["start", "stop"],
    ),
    case(
        "local_alias_sorts_global_list",
        """
        import time
        scores = [3, 1, 2]
        def top(n):
            s = scores
            time.sleep(0.05)
            s.sort(reverse=True)
            return s[:n]
        """,
        """
        best = top(2)
        ordered = list(scores)
        """,
        lambda o: value(o, "ordered") == [3, 2, 1],
    ),
    case(
        "classmethod_changes_class_attribute",
        """
        import time
        class Units:
            scale = 1.0
            @classmethod
            def use_km(cls):
                time.sleep(0.05)
                cls.scale = 1000.0
            def convert(self, x):
                return x * self.scale
        u = Units()
        """,
        """
        Units.use_km()
        dist = u.convert(2.5)
        """,
        lambda o: value(o, "dist") == 2500.0,
    ),
    case(
        "callable_object_accumulates",
        """
        import time
        class Accumulator:
            def __init__(self):
                self.total = 0
            def __call__(self, x):
                time.sleep(0.03)
                self.total += x
                return self.total
        acc = Accumulator()
        """,
        """
        s1 = acc(5)
        s2 = acc(7)
        s3 = acc(1)
        """,
        lambda o: value(o, "s3") == 13,
    ),
    case(
        "property_setter_logs_to_class",
        """
        import time
        class Temperature:
            history = []
            def __init__(self):
                self._c = 0
            @property
            def celsius(self):
                return self._c
            @celsius.setter
            def celsius(self, v):
                time.sleep(0.03)
                Temperature.history.append(v)
                self._c = v
        t = Temperature()
        """,
        """
        t.celsius = 21
        t.celsius = 23
        changes = len(Temperature.history)
        """,
        lambda o: value(o, "changes") == 2,
    ),
    case(
        "method_of_object_in_list",
        """
        import time
        class Worker:
            def __init__(self, name):
                self.name, self.load = name, 0
            def assign(self, hours):
                time.sleep(0.03)
                self.load += hours
                return self.load
        workers = [Worker("ann"), Worker("bob")]
        """,
        """
        h1 = workers[0].assign(4)
        h2 = workers[1].assign(2)
        loads = [w.load for w in workers]
        """,
        lambda o: value(o, "loads") == [4, 2],
    ),
]
