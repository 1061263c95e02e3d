"""Output of threads the user starts inside a statement, against other statements' output."""

from __future__ import annotations

from differential import case, out

KIND = "threadout"

POOL = """
import time, threading, sys
from concurrent.futures import ThreadPoolExecutor, as_completed
def fetch(url, delay):
    time.sleep(delay)
    print(f"fetched {url}")
    return len(url)
def fetch_all(urls):
    with ThreadPoolExecutor(max_workers=3) as ex:
        return list(ex.map(fetch, urls, [0.02 + 0.08 * i for i in range(len(urls))]))
def slow_print(msg, delay):
    time.sleep(delay)
    print(msg)
    return msg
"""

CASES = [
    case(
        "pool_prints_between_statement_prints",
        POOL,
        """
        print("starting downloads")
        sizes = fetch_all(["a.csv", "bb.csv"])
        print("total", sum(sizes))
        """,
        lambda o: out(o) == "starting downloads\nfetched a.csv\nfetched bb.csv\ntotal 11\n",
    ),
    case(
        "pool_prints_after_slow_earlier_statement",
        POOL,
        """
        first = slow_print("loading config", 0.15)
        sizes = fetch_all(["x", "yy"])
        """,
        lambda o: out(o) == "loading config\nfetched x\nfetched yy\n",
    ),
    case(
        "two_statements_each_with_a_pool",
        POOL,
        """
        r1 = fetch_all(["left1", "left2"])
        r2 = fetch_all(["right"])
        """,
        lambda o: out(o) == "fetched left1\nfetched left2\nfetched right\n",
    ),
    case(
        "thread_started_and_joined_in_helper",
        POOL
        + """
def report(tag):
    t = threading.Thread(target=print, args=(f"report {tag}",))
    t.start()
    t.join()
    return tag
""",
        """
        a = slow_print("step one", 0.1)
        b = report("weekly")
        """,
        lambda o: out(o) == "step one\nreport weekly\n",
    ),
    case(
        "submit_with_done_callback",
        POOL
        + """
def run_jobs(names):
    with ThreadPoolExecutor(max_workers=1) as ex:
        for n in names:
            ex.submit(time.sleep, 0.01).add_done_callback(lambda f, n=n: print("done", n))
    return len(names)
""",
        """
        head = slow_print("queue ready", 0.1)
        count = run_jobs(["a", "b"])
        """,
        lambda o: out(o) == "queue ready\ndone a\ndone b\n",
    ),
    case(
        "as_completed_prints_in_completion_order",
        POOL
        + """
def race(delays):
    with ThreadPoolExecutor(max_workers=len(delays)) as ex:
        futs = {ex.submit(time.sleep, d): d for d in delays}
        for f in as_completed(futs):
            print("finished", futs[f])
    return sorted(delays)
""",
        """
        intro = slow_print("racing", 0.1)
        order = race([0.12, 0.02])
        """,
        lambda o: out(o) == "racing\nfinished 0.02\nfinished 0.12\n",
    ),
    case(
        "pool_writes_to_stderr",
        POOL
        + """
def warn_each(items):
    def one(x):
        time.sleep(0.02)
        sys.stderr.write(f"checked {x}\\n")
    with ThreadPoolExecutor(max_workers=1) as ex:
        list(ex.map(one, items))
    return len(items)
""",
        """
        a = slow_print("begin", 0.1)
        n = warn_each(["p", "q"])
        print("end")
        """,
        lambda o: o["stderr"] == "checked p\nchecked q\n" and out(o) == "begin\nend\n",
    ),
    case(
        "heartbeat_thread_prints_between",
        POOL
        + """
def start_heartbeat():
    t = threading.Thread(target=slow_print, args=("heartbeat", 0.05))
    t.start()
    return t
""",
        """
        hb = start_heartbeat()
        done = slow_print("long step done", 0.25)
        hb.join()
        del hb
        """,
        lambda o: out(o) == "heartbeat\nlong step done\n",
    ),
    case(
        "logging_from_worker_threads",
        POOL
        + """
import logging
def make_crawler():
    lg = logging.getLogger("crawler")
    lg.propagate = False
    lg.setLevel(logging.INFO)
    lg.addHandler(logging.StreamHandler(sys.stdout))
    def crawl(pages):
        def visit(p):
            time.sleep(0.02 * pages.index(p))
            lg.info("visited %s", p)
        with ThreadPoolExecutor(max_workers=2) as ex:
            list(ex.map(visit, pages))
        return len(pages)
    return crawl
crawl = make_crawler()
""",
        """
        s = slow_print("crawler start", 0.1)
        n_pages = crawl(["home", "about"])
        """,
        lambda o: out(o) == "crawler start\nvisited home\nvisited about\n",
    ),
    case(
        "later_statement_prints_while_pool_runs",
        POOL,
        """
        sizes = fetch_all(["one", "two"])
        z = slow_print("summary", 0)
        """,
        lambda o: out(o) == "fetched one\nfetched two\nsummary\n",
    ),
    case(
        "timer_thread_joined_in_helper",
        POOL
        + """
def delayed_notice(msg):
    t = threading.Timer(0.02, print, [msg])
    t.start()
    t.join()
    return msg
""",
        """
        a = slow_print("exporting", 0.15)
        b = delayed_notice("export scheduled")
        """,
        lambda o: out(o) == "exporting\nexport scheduled\n",
    ),
    case(
        "pool_map_prints_rows_in_order",
        POOL
        + """
def print_rows(rows):
    with ThreadPoolExecutor(max_workers=1) as ex:
        return sum(ex.map(lambda r: print("row", r) or r, rows))
""",
        """
        header = slow_print("id", 0.1)
        total = print_rows([1, 2, 3])
        footer = slow_print("end", 0)
        """,
        lambda o: out(o) == "id\nrow 1\nrow 2\nrow 3\nend\n",
    ),
    case(
        "display_from_a_started_thread",
        POOL
        + """
from IPython.display import display
def show_async(obj):
    t = threading.Thread(target=display, args=(obj,))
    t.start()
    t.join()
    return obj
""",
        """
        a = slow_print("before", 0.1)
        shown = show_async({"rows": 3})
        """,
        lambda o: [k for k, _ in o["outputs"]] == ["streams", "display"],
    ),
    case(
        "user_process_pool_inside_statement",
        POOL + "from concurrent.futures import ProcessPoolExecutor\n",
        """
        head = slow_print("starting pool", 0.05)
        with ProcessPoolExecutor(max_workers=2) as pool:
            mags = list(pool.map(abs, [-3, -1, 2]))
        print("mags", mags)
        """,
        lambda o: out(o) == "starting pool\nmags [3, 1, 2]\n",
    ),
    case(
        "logging_format_names_the_thread",
        """
        import logging, sys
        def make_logger():
            lg = logging.getLogger("jobs")
            lg.propagate = False
            lg.setLevel(logging.INFO)
            h = logging.StreamHandler(sys.stdout)
            h.setFormatter(logging.Formatter("%(threadName)s %(funcName)s: %(message)s"))
            lg.addHandler(h)
            def run_job(name):
                lg.info("running %s", name)
                return name
            return run_job
        run_job = make_logger()
        """,
        """
        a = run_job("extract")
        b = run_job("load")
        """,
        lambda o: (
            out(o) == "MainThread run_job: running extract\nMainThread run_job: running load\n"
        ),
    ),
    case(
        "helper_prints_its_stack",
        """
        import traceback
        def debug_here():
            traceback.print_stack(limit=2)
            return 1
        """,
        """
        x = 1
        marker = debug_here()
        """,
        lambda o: "marker = debug_here()" in o["stderr"],
    ),
]
