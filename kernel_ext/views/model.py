"""What every view needs to know about a job, kept up to date from its events.

Views do not read events themselves: the hub feeds them to one
:class:`JobModel`, which keeps each task's latest state and each group's
counts, and collects what changed since the last refresh. State changes are
applied as transitions from the task's current state, so an event that
repeats what a late joiner's snapshot (``job.states()``) already showed, or
that arrives after the task reached a final state, changes nothing.

Speed matters here: a 100,000-task job sends 300,000 events, and this code
shares the GIL with the workers. States are kept as their string values
(``TaskState.__hash__`` is Python code, a string's hash is cached) and the
loop in :meth:`JobModel.apply` is written out flat.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kernel_ext.events import FINAL_STATES, TaskEvent, TaskState

_FINAL = frozenset(s.value for s in FINAL_STATES)
_WAITING = TaskState.WAITING.value
_RETRIED = TaskState.RETRIED.value
_FAILED = TaskState.FAILED.value


class Span(NamedTuple):
    """One task run, for the task stream: times are ``time.monotonic()`` readings."""

    key: Hashable
    group: str
    worker: str
    start: float
    end: float
    state: str  # a TaskState value


class Changes(NamedTuple):
    keys: set[Hashable]  # tasks whose state changed (only if the model tracks keys)
    groups: set[str]  # groups with a changed count
    spans: list[Span]  # runs that ended (only if the model tracks spans)


NO_CHANGES = Changes(set(), set(), [])


@dataclass(slots=True)
class GroupCounts:
    total: int = 0
    raw: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in TaskState})
    error: str | None = None  # one-line summary of the group's first failure

    @property
    def counts(self) -> dict[TaskState, int]:
        return {TaskState(s): n for s, n in self.raw.items()}

    @property
    def done(self) -> int:
        return self.raw[TaskState.FINISHED.value]


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
        self.states: dict[Hashable, str] = {}  # key -> TaskState value; absent = waiting
        self.groups: dict[str, GroupCounts] = {}
        self.group_of: dict[Hashable, str] = {}
        self.track_keys = False  # collect changed keys (set by views that need them)
        self.changed: set[Hashable] = set()  # keys changed since take_changes(), if tracked
        self.changed_groups: set[str] = set()
        self.track_spans = False  # collect runs (set by the task stream)
        self.spans: list[Span] = []  # runs that ended since take_changes(), if tracked
        for key in job.keys:
            group = job.group_of(key)
            self.group_of[key] = group
            counts = self.groups.get(group)
            if counts is None:
                counts = self.groups[group] = GroupCounts()
            counts.total += 1
            counts.raw[_WAITING] += 1
        self.apply_snapshot(job.states())

    def state(self, key: Hashable) -> TaskState:
        return TaskState(self.states.get(key, _WAITING))

    def apply_snapshot(self, states: Mapping[Hashable, TaskState]) -> None:
        for key, state in states.items():
            value = state.value
            if value != self.states.get(key, _WAITING):
                self._move(key, self.group_of[key], value)

    def apply(self, events: Iterable[TaskEvent]) -> None:
        """Fold a batch of events in."""
        states, spans, groups = self.states, self.spans, self.groups
        changed_groups, track, track_spans = self.changed_groups, self.track_keys, self.track_spans
        final, retried, failed = _FINAL, _RETRIED, _FAILED
        for ev in events:
            state = ev.state._value_
            key = ev.key
            if state == retried:
                if track_spans and ev.end is not None:
                    spans.append(Span(key, ev.group, ev.worker or "?", ev.start, ev.end, state))
                continue
            old = states.get(key, _WAITING)
            if old == state or old in final:
                continue
            states[key] = state
            group = ev.group
            raw = groups[group].raw
            raw[old] -= 1
            raw[state] += 1
            changed_groups.add(group)
            if track:
                self.changed.add(key)
            if state in final:
                if track_spans and ev.end is not None and ev.start is not None:
                    spans.append(Span(key, group, ev.worker or "?", ev.start, ev.end, state))
                if state == failed and groups[group].error is None:
                    groups[group].error = error_summary(ev.error)

    def take_changes(self) -> Changes:
        """What changed since the last call, for a refresh of the views."""
        changes = Changes(self.changed, self.changed_groups, self.spans)
        self.changed, self.changed_groups, self.spans = set(), set(), []
        return changes

    def totals(self) -> dict[TaskState, int]:
        out = dict.fromkeys(TaskState, 0)
        for group in self.groups.values():
            for value, n in group.raw.items():
                out[TaskState(value)] += n
        return out

    def _move(self, key: Hashable, group: str, value: str) -> None:
        old = self.states.get(key, _WAITING)
        self.states[key] = value
        raw = self.groups[group].raw
        raw[old] -= 1
        raw[value] += 1
        self.changed_groups.add(group)
        if self.track_keys:
            self.changed.add(key)
