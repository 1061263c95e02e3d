"""The shared thread pool: bounded threads, fair turns between jobs, no deadlock when nested."""

import threading
import time

import kernel_ext
from kernel_ext.graph import Graph, Task
from kernel_ext.scheduler import Job
from kernel_ext.thread_pool import SharedThreadPool, shared_pool


def sleeps(count, seconds, prefix="t"):
    return Graph(Task(f"{prefix}{i}", time.sleep, (seconds,)) for i in range(count))


def test_twenty_jobs_at_once_all_finish_on_a_bounded_number_of_threads():
    # Threads that are not the pool's: Python's, pytest's, and those earlier tests left
    # (a distributed.Client keeps its event-loop threads for the process's life).
    others = threading.active_count() - shared_pool.thread_count
    jobs = [
        kernel_ext.submit({f"p{i}": (pow, j, i) for i in range(40)}, [f"p{i}" for i in range(40)],
                          num_workers=4)
        for j in range(20)
    ] + [kernel_ext.submit(sleeps(8, 0.02), [f"t{i}" for i in range(8)], num_workers=8)
         for _ in range(20)]
    peak = 0
    while not all(job.done() for job in jobs):
        peak = max(peak, threading.active_count())
        time.sleep(0.005)
    for j, job in enumerate(jobs[:20]):
        assert job.result() == tuple(pow(j, i) for i in range(40))
    assert all(job.status is kernel_ext.JobStatus.FINISHED for job in jobs)
    assert shared_pool.thread_count <= shared_pool.max_threads
    assert peak <= others + shared_pool.max_threads + 20  # + this test's and the jobs' own


def test_a_small_job_gets_turns_while_a_large_job_runs():
    pool = SharedThreadPool(max_threads=2, name="fairness-pool")
    large = Job(sleeps(400, 0.005, "large"), [f"large{i}" for i in range(400)],
                num_workers=2, pool=pool).start()
    time.sleep(0.1)
    small = Job(sleeps(4, 0.005, "small"), [f"small{i}" for i in range(4)],
                num_workers=2, pool=pool).start()
    assert small.wait(5)
    finished_large = large.counts[kernel_ext.TaskState.FINISHED]
    assert finished_large < 300, "the small job waited for most of the large one"
    assert large.wait(10)
    assert pool.thread_count <= 2


def test_a_task_that_waits_on_a_nested_job_does_not_deadlock_a_one_thread_pool():
    pool = SharedThreadPool(max_threads=1, name="nested-pool")

    def outer():
        inner = Job(Graph([Task("x", abs, (-3,))]), "x", pool=pool).start()
        return inner.result(timeout=5) * 2

    job = Job(Graph([Task("outer", outer)]), "outer", pool=pool).start()
    assert job.result(timeout=10) == 6


def test_worker_names_are_the_jobs_own_numbered_workers():
    job = kernel_ext.submit(sleeps(6, 0.01), [f"t{i}" for i in range(6)], num_workers=3)
    names = set()
    job.subscribe(lambda batch: names.update(e.worker for e in batch if e.worker))
    job.wait()
    job._events.wait_closed(5)
    assert names <= {f"kernel_ext-{job.id}-worker-{n}" for n in range(3)}


def test_many_tasks_waiting_on_nested_jobs_finish_without_growing_the_pool():
    pool = SharedThreadPool(max_threads=2, name="nested-many")

    def outer(n):
        inner = Job(sleeps(4, 0.01, f"in{n}-"), [f"in{n}-{i}" for i in range(4)],
                    num_workers=4, pool=pool).start()
        return len(inner.result(timeout=20))

    graph = Graph(Task(f"outer{n}", outer, (n,)) for n in range(6))
    job = Job(graph, [f"outer{n}" for n in range(6)], num_workers=6, pool=pool).start()
    assert job.result(timeout=30) == (4,) * 6
    assert pool.thread_count <= 2
