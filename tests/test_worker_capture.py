"""Prints and warnings of runs in a worker process become each run's own events.

A worker process runs a batch of iterations one after the other; the swap of
``sys.stdout``, ``sys.stderr`` and the warnings hooks is held for the whole
batch, and what one run changes (a filter it adds, a stream it replaces) must
not reach the next run, nor outlive the batch. These use the real worker-side
functions in this process, as a worker runs them.
"""

from __future__ import annotations

import sys
import warnings

from kernel_ext.cell.worker_run import capture_held, capturing


def run(task):
    events = []
    with capturing(events):
        task()
    return events


def noisy():
    print("out")
    print("err", file=sys.stderr)
    warnings.warn("careful", UserWarning, stacklevel=1)


def test_each_run_keeps_its_own_prints_and_warnings_in_order():
    events = run(noisy)
    assert [kind for kind, _ in events] == ["stdout", "stderr", "warning"]
    assert events[0][1] == "out\n" and str(events[2][1].message) == "careful"


def test_a_held_batch_gives_each_run_the_same_capture_and_puts_everything_back():
    stdout, stderr, showwarning = sys.stdout, sys.stderr, warnings.showwarning
    filters = list(warnings.filters)
    with capture_held():
        first = run(noisy)

        def meddle():
            warnings.simplefilter("ignore")  # would hide the next run's warnings
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115 - replaced, not closed
            print("lost")

        run(meddle)
        second = run(noisy)
        third = run(noisy)  # a warning at the same place is kept again ('always')
    assert [kind for kind, _ in first] == [kind for kind, _ in second] == [
        kind for kind, _ in third] == ["stdout", "stderr", "warning"]
    assert (sys.stdout, sys.stderr, warnings.showwarning) == (stdout, stderr, showwarning)
    assert warnings.filters == filters


def test_prints_outside_any_run_go_where_they_went_before(capsys):
    with capture_held():
        print("between runs")
        events = run(noisy)
    assert "between runs" in capsys.readouterr().out
    assert events[0] == ("stdout", "out\n")
