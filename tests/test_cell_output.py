"""Ordered release of statement output: nothing a statement prints is ever lost or reordered."""

from kernel_ext.cell.output import OrderedRelease


def test_output_printed_just_before_a_statement_ends_is_still_released(capsys):
    release = OrderedRelease(2)
    first = release.buffers[0]
    first.add("stdout", "item 0\n")
    take = first.take

    def take_while_the_statement_prints_once_more_and_ends():
        items = take()
        first.add("stdout", "item 9\n")  # the worker thread, between take and the check
        release.mark_ended(0)
        return items

    first.take = take_while_the_statement_prints_once_more_and_ends
    release.buffers[1].add("stdout", "done\n")
    release.release_ready(None)
    first.take = take
    release.mark_ended(1)
    release.release_ready(None)
    assert capsys.readouterr().out == "item 0\nitem 9\ndone\n"


def test_a_later_statement_waits_for_the_earlier_ones(capsys):
    release = OrderedRelease(2)
    release.buffers[1].add("stdout", "second\n")
    release.mark_ended(1)
    release.release_ready(None)
    assert capsys.readouterr().out == ""
    release.buffers[0].add("stdout", "first\n")
    release.mark_ended(0)
    release.release_ready(None)
    assert capsys.readouterr().out == "first\nsecond\n"
