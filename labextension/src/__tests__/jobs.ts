/** A valid JobInfo for tests, with fields overridden. */
import type { JobInfo } from '../protocol';

export function job(overrides: Partial<JobInfo> = {}): JobInfo {
  return {
    id: 'bg-1',
    number: 1,
    kind: 'background',
    execution_count: 4,
    cell_id: 'cell-a',
    first_line: '%%parallel --background',
    state: 'running',
    total: 10,
    done: 3,
    failed: 0,
    running: 2,
    started: 1000,
    ended: null,
    elapsed: 3,
    time_left: 7,
    workers: 4,
    backend: 'threads',
    error: null,
    ...overrides
  };
}
