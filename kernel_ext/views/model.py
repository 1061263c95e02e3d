"""What every view needs to know about a job, kept up to date from its events.

Views do not read events themselves: the hub feeds them to one
:class:`JobModel`, which keeps each task's latest state and each group's
counts, and collects what changed since the last refresh. State changes are
applied as transitions from the task's current state, so an event that
repeats what a late joiner's snapshot (``job.states()``) already showed, or
that arrives after the task reached a final state, changes nothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kernel_ext.events import FINAL_STATES, TaskEvent, TaskState


@dataclass(slots=True)
class Span:
    """One task run, for the task stream: times are ``time.monotonic()`` readings."""

    key: Hashable
    group: str
    worker: str
    start: float
    end: float
    state: TaskState


@dataclass(slots=True)
class GroupCounts:
    total: int = 0
    counts: dict[TaskState, int] = field(default_factory=lambda: dict.fromkeys(TaskState, 0))
    error: str | None = None  # one-line summary of the group's first failure

    @property
    def done(self) -> int:
        return self.counts[TaskState.FINISHED]


def error_summary(error: BaseException | None) -> str:
    """``ValueError: bad input``: the first line only, so it fits next to a bar."""
    if error is None:
        return "failed"
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class JobModel:
    """Task states and per-group counts of one job, built from a snapshot plus events."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.states: dict[Hashable, TaskState] = {}
        self.groups: dict[str, GroupCounts] = {}
        self.group_of: dict[Hashable, str] = {}
        self.changed: set[Hashable] = set()  # keys whose state changed since take_changes()
        self.spans: list[Span] = []  # finished runs since take_changes()
        self.workers: list[str] = []  # in order of first appearance
        for key in job.keys:
            group = job.group_of(key)
            self.group_of[key] = group
            counts = self.groups.setdefault(group, GroupCounts())
            counts.total += 1
            counts.counts[TaskState.WAITING] += 1
        self.apply_snapshot(job.states())

    def apply_snapshot(self, states: dict[Hashable, TaskState]) -> None:
        for key, state in states.items():
            self._move(key, state)

    def apply(self, events: Iterable[TaskEvent]) -> None:
        """Fold a batch of events in; cheap per event, as the job may have 100,000 tasks."""
        states, spans, final = self.states, self.spans, FINAL_STATES
        for ev in events:
            state = ev.state
            if state is TaskState.RETRIED:
                if ev.start is not None and ev.end is not None:
                    spans.append(Span(ev.key, ev.group, self._worker(ev.worker), ev.start,
                                      ev.end, state))
                continue
            old = states.get(ev.key, TaskState.WAITING)
            if old is state or old in final:
                continue
            self._move(ev.key, state)
            if state in final:
                if ev.start is not None and ev.end is not None:
                    spans.append(Span(ev.key, ev.group, self._worker(ev.worker), ev.start,
                                      ev.end, state))
                if state is TaskState.FAILED:
                    group = self.groups[ev.group]
                    if group.error is None:
                        group.error = error_summary(ev.error)

    def take_changes(self) -> tuple[set[Hashable], list[Span]]:
        changed, spans = self.changed, self.spans
        self.changed, self.spans = set(), []
        return changed, spans

    def totals(self) -> dict[TaskState, int]:
        out = dict.fromkeys(TaskState, 0)
        for group in self.groups.values():
            for state, n in group.counts.items():
                out[state] += n
        return out

    def _move(self, key: Hashable, state: TaskState) -> None:
        old = self.states.get(key, TaskState.WAITING)
        if old is state:
            return
        self.states[key] = state
        counts = self.groups[self.group_of[key]].counts
        counts[old] -= 1
        counts[state] += 1
        self.changed.add(key)

    def _worker(self, name: str | None) -> str:
        name = name or "?"
        if name not in self.workers:
            self.workers.append(name)
        return name
