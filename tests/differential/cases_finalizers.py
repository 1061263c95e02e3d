"""Finalizers: ``del`` or rebinding runs ``__del__``, closes or flushes files, at once."""

from __future__ import annotations

from differential import case, out, value

KIND = "finalizers"

RESOURCE = """
class TempResource:
    def __init__(self, name):
        self.name = name
    def __del__(self):
        print(f"released {self.name}")
"""

CASES = [
    case(
        "del_runs_destructor",
        RESOURCE,
        """
        res = TempResource("db")
        del res
        print("after del")
        """,
        lambda o: out(o) == "released db\nafter del\n",
    ),
    case(
        "rebinding_runs_destructor",
        RESOURCE,
        """
        conn = TempResource("a")
        conn = TempResource("b")
        print("rebound")
        """,
        lambda o: out(o) == "released a\nrebound\n",
    ),
    case(
        "del_file_flushes_before_read",
        "",
        """
        f = open("@TMP@/out.txt", "w")
        f.write("data")
        del f
        with open("@TMP@/out.txt") as g:
            content = g.read()
        """,
        lambda o: value(o, "content") == "data",
    ),
    case(
        "rebinding_file_handle_closes_first",
        "",
        """
        log = open("@TMP@/app.log", "a")
        log.write("one\\n")
        log = open("@TMP@/app.log", "a")
        log.write("two\\n")
        log.close()
        with open("@TMP@/app.log") as fh:
            text = fh.read()
        """,
        lambda o: value(o, "text") == "one\ntwo\n",
    ),
    case(
        "helper_returns_open_handle_then_del",
        """
        import csv, os
        def export(rows, path):
            fh = open(path, "w", newline="")
            w = csv.writer(fh)
            w.writerows(rows)
            return fh
        """,
        """
        h = export([[1, 2], [3, 4]], "@TMP@/rows.csv")
        del h
        size = os.path.getsize("@TMP@/rows.csv")
        """,
        lambda o: value(o, "size") == 10,  # csv ends rows with \r\n
    ),
    case(
        "weakref_finalize_prints",
        """
        import weakref
        class Model:
            pass
        """,
        """
        model = Model()
        weakref.finalize(model, print, "model freed")
        del model
        print("continuing")
        """,
        lambda o: out(o) == "model freed\ncontinuing\n",
    ),
    case(
        "destructor_appends_to_global_log",
        """
        closed = []
        class Session:
            def __init__(self, name):
                self.name = name
            def __del__(self):
                closed.append(self.name)
        """,
        """
        s = Session("x")
        s = None
        n_closed = len(closed)
        """,
        lambda o: value(o, "n_closed") == 1,
    ),
    case(
        "zipfile_closed_by_del",
        "import zipfile\n",
        """
        zf = zipfile.ZipFile("@TMP@/bundle.zip", "w")
        zf.writestr(zipfile.ZipInfo("a.txt", (2024, 1, 1, 0, 0, 0)), "alpha")
        del zf
        members = zipfile.ZipFile("@TMP@/bundle.zip").namelist()
        """,
        lambda o: value(o, "members") == ["a.txt"],
    ),
    case(
        "generator_finally_runs_on_rebind",
        "",
        """
        def reader():
            try:
                yield 1
                yield 2
            finally:
                print("reader closed")
        r = reader()
        first = next(r)
        r = None
        print("done")
        """,
        lambda o: out(o) == "reader closed\ndone\n",
    ),
    case(
        "destructor_writes_summary_file",
        """
        class Report:
            def __init__(self, rows):
                self.rows = rows
            def __del__(self):
                with open("@TMP@/summary.txt", "w") as f:
                    f.write(f"{len(self.rows)} rows")
        """,
        """
        rep = Report([1, 2, 3])
        rep = None
        with open("@TMP@/summary.txt") as f:
            summary = f.read()
        """,
        lambda o: value(o, "summary") == "3 rows",
    ),
    case(
        "del_dict_item_runs_destructor",
        RESOURCE + "cache = {'big': TempResource('big'), 'small': TempResource('small')}\n",
        """
        del cache["big"]
        print("left:", sorted(cache))
        """,
        lambda o: out(o) == "released big\nleft: ['small']\n",
    ),
    case(
        "buffered_writer_flushed_by_rebind",
        "import os\n",
        """
        out_file = open("@TMP@/numbers.txt", "w")
        for i in range(3):
            out_file.write(f"{i}\\n")
        out_file = None
        lines = open("@TMP@/numbers.txt").read().splitlines()
        """,
        lambda o: value(o, "lines") == ["0", "1", "2"],
    ),
    case(
        "weak_value_cache_loses_deleted_entry",
        """
        import weakref
        class Thing:
            pass
        cache = weakref.WeakValueDictionary()
        """,
        """
        obj = Thing()
        cache["k"] = obj
        del obj
        alive = "k" in cache
        """,
        lambda o: value(o, "alive") is False,
    ),
    case(
        "popped_item_released",
        RESOURCE + "items = [TempResource('x'), TempResource('y')]\n",
        """
        items.pop()
        print("left", len(items))
        """,
        lambda o: out(o) == "released y\nleft 1\n",
    ),
    case(
        "dict_entry_overwritten_releases_old",
        RESOURCE + "cache = {'k': TempResource('old')}\n",
        """
        cache["k"] = TempResource("new")
        print("replaced")
        """,
        lambda o: out(o) == "released old\nreplaced\n",
    ),
]
