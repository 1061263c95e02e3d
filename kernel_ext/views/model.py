"""What every view needs to know about a job, polled from the job and fed by a few events.

Views do not read events themselves: the hub keeps one :class:`JobModel` up
to date and collects what changed since the last refresh.

Speed matters here: a 100,000-task job makes 300,000 state changes, and this
code shares the GIL with the workers, so nothing here runs per state change.
Counts come from :meth:`poll`, which reads the job's per-group tallies
(``job.group_counts()``: one small dict per group, whatever the number of
tasks), its error list, and, only for views that colour single tasks (small
graphs), its per-task states. Events are used only for what a snapshot cannot
tell: when and where each task ran (the task stream's bars); those events are
kept by :meth:`apply`. Polled states are kept as their string values.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from kernel_ext.events import FINAL_STATES, TaskEvent, TaskState

_WAITING = TaskState.WAITING.value
_FINAL = tuple(s.value for s in FINAL_STATES)
_RETRIED = TaskState.RETRIED.value

#: The events the task stream needs: runs that ended, with their times and worker.
SPAN_STATES = frozenset({TaskState.FINISHED, TaskState.FAILED, TaskState.RETRIED})


class Changes(NamedTuple):
    keys: set[Hashable]  # tasks whose state changed (only if the model tracks keys)
    groups: set[str]  # groups with a changed count
    spans: list[TaskEvent]  # runs that ended (only if the model tracks spans)


NO_CHANGES = Changes(set(), set(), [])


@dataclass(slots=True)
class GroupCounts:
    total: int = 0
    raw: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in TaskState})
    error: str | None = None  # one-line summary of the group's first failure
    started: float | None = None  # when a poll first saw one of its tasks past waiting

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
    """Per-group counts of one job (polled), task states if tracked, and runs from events."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.states: dict[Hashable, str] = {}  # key -> TaskState value, if track_keys
        self.groups: dict[str, GroupCounts] = {
            name: GroupCounts(total=sum(counts.values()))
            for name, counts in job.group_counts().items()
        }
        self.track_keys = False  # poll per-task states (set by views that colour single tasks)
        self.changed: set[Hashable] = set()  # keys changed since take_changes(), if tracked
        self.changed_groups: set[str] = set()
        self.track_spans = False  # collect runs (set by the task stream)
        self.span_limit = 0  # how many runs the task stream still draws one by one
        self.spans: list[TaskEvent] = []  # runs that ended since take_changes(), if tracked
        self._errors_seen = 0
        self.poll()

    def state(self, key: Hashable) -> TaskState:
        if self.track_keys:
            return TaskState(self.states.get(key, _WAITING))
        return self.job.state_of(key)

    def poll(self) -> None:
        """Read the job's current counts (and states, if tracked); note what changed."""
        groups, changed_groups = self.groups, self.changed_groups
        for name, counts in self.job.group_counts().items():
            group = groups.get(name)
            if group is None:  # a group only a child job has (see kernel_ext.child_jobs)
                group = groups[name] = GroupCounts()
            raw = {state._value_: n for state, n in counts.items()}
            raw[_RETRIED] = 0
            if raw != group.raw:
                group.raw = raw
                # A statement that fans out grows from one task to its iterations.
                group.total = sum(raw.values())
                if group.started is None and raw[_WAITING] < group.total:
                    group.started = time.monotonic()
                changed_groups.add(name)
        errors = self.job.errors  # a copy; jobs rarely fail many tasks
        if len(errors) > self._errors_seen:
            for key, error in errors[self._errors_seen:]:
                name = self.job.group_of(key)
                if groups[name].error is None:
                    groups[name].error = error_summary(error)
                    changed_groups.add(name)
            self._errors_seen = len(errors)
        if self.track_keys:
            states, changed = self.states, self.changed
            for key, state in self.job.states().items():
                value = state._value_
                if states.get(key, _WAITING) != value:
                    states[key] = value
                    changed.add(key)

    def apply(self, events: Iterable[TaskEvent]) -> None:
        """Fold in a batch of events: runs that ended (FINISHED, FAILED, RETRIED) are spans.

        The events themselves are kept (no copy into another record per run):
        the task stream reads their key, group, worker, times and state.
        """
        if self.track_spans:
            self.spans.extend(ev for ev in events if ev.end is not None and ev.start is not None)

    def take_changes(self) -> Changes:
        """What changed since the last call, for a refresh of the views."""
        changes = Changes(self.changed, self.changed_groups, self.spans)
        self.changed, self.changed_groups, self.spans = set(), set(), []
        return changes

    def ended(self) -> int:
        """How many tasks are in a final state (as last polled)."""
        return sum(group.raw[value] for group in self.groups.values() for value in _FINAL)

    def worth_building_live(self, after: float) -> bool:
        """Whether a view that is costly to build (the task stream's plot, a big graph's
        layout) should be built now, while the job runs, rather than once at its end.

        Not before the job has run ``after`` seconds; then once it is expected
        (from the share of its tasks that have ended) to run ``after`` more,
        and in any case once it has run ``3 × after``. Building needs the GIL
        and so slows the job; a view built for a job's last moments is seen for
        a blink and then built again, final, at its end.
        """
        started = self.job.started_at
        if started is None:
            return False
        elapsed = time.monotonic() - started
        if elapsed < after:
            return False
        ended = self.ended()
        if elapsed >= 3 * after or not ended:
            return True
        return elapsed * (self.job.task_count - ended) / ended >= after

    def totals(self) -> dict[TaskState, int]:
        out = dict.fromkeys(TaskState, 0)
        for group in self.groups.values():
            for value, n in group.raw.items():
                out[TaskState(value)] += n
        return out
