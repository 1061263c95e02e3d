import { describe, expect, it } from 'vitest';

import { IJobEntry, JobsModel, MAX_FINISHED_PER_KERNEL } from '../model';
import { liveElapsed, runningByCell, sortJobs, summarize } from '../selectors';
import { job } from './jobs';

function watch(model: JobsModel): { changes: number; ended: IJobEntry[] } {
  const seen = { changes: 0, ended: [] as IJobEntry[] };
  model.changed.connect(() => (seen.changes += 1));
  model.ended.connect((_, entry) => seen.ended.push(entry));
  return seen;
}

describe('JobsModel', () => {
  it('takes a snapshot, replacing what it had for that kernel', () => {
    const model = new JobsModel();
    const seen = watch(model);
    model.setPath('k1', 'nb/a.ipynb');
    model.apply('k1', { type: 'snapshot', jobs: [job({ id: 'bg-1' }), job({ id: 'bg-2' })] });
    model.apply('k1', { type: 'snapshot', jobs: [job({ id: 'bg-2', done: 5 })] });
    expect(model.entries().map(e => e.info.id)).toEqual(['bg-2']);
    expect(model.job('k1', 'bg-2')?.info.done).toBe(5);
    expect(model.job('k1', 'bg-2')?.path).toBe('nb/a.ipynb');
    expect(seen.changes).toBe(3);
  });

  it('applies updates and ignores hello and replies', () => {
    const model = new JobsModel();
    const seen = watch(model);
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ done: 4 })] });
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ done: 8 })] });
    model.apply('k1', { type: 'hello', protocol: 1, kernel_ext: '0.1.0', refresh: 0.5 });
    model.apply('k1', { type: 'reply', request_id: 'r', ok: true, message: '' });
    expect(model.job('k1', 'bg-1')?.info.done).toBe(8);
    expect(seen.changes).toBe(2);
  });

  it('fires ended once per job however the end is told', () => {
    const model = new JobsModel();
    const seen = watch(model);
    model.apply('k1', { type: 'jobs_updated', jobs: [job()] });
    const finished = job({ state: 'finished', done: 10, ended: 1010 });
    model.apply('k1', { type: 'jobs_updated', jobs: [finished] });
    model.apply('k1', { type: 'job_ended', job: finished });
    model.apply('k1', { type: 'snapshot', jobs: [finished] });
    expect(seen.ended.map(e => e.info.id)).toEqual(['bg-1']);
    expect(seen.ended[0].kernelId).toBe('k1');
  });

  it('fires ended for job_ended of a job it never saw run, not for ended jobs in a snapshot', () => {
    const model = new JobsModel();
    const seen = watch(model);
    model.apply('k1', { type: 'snapshot', jobs: [job({ id: 'old', state: 'failed' })] });
    expect(seen.ended).toHaveLength(0);
    model.apply('k1', { type: 'job_ended', job: job({ id: 'quick', state: 'finished' }) });
    expect(seen.ended.map(e => e.info.id)).toEqual(['quick']);
  });

  it(`keeps at most ${MAX_FINISHED_PER_KERNEL} finished jobs per kernel, dropping the oldest`, () => {
    const model = new JobsModel();
    const finished = Array.from({ length: 60 }, (_, i) =>
      job({ id: `bg-${i}`, state: 'finished', ended: 2000 + i })
    );
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ id: 'live' }), ...finished] });
    model.apply('k2', { type: 'jobs_updated', jobs: [job({ id: 'other', state: 'finished' })] });
    const k1 = model.entries().filter(e => e.kernelId === 'k1');
    expect(k1).toHaveLength(MAX_FINISHED_PER_KERNEL + 1);
    expect(model.job('k1', 'live')).toBeDefined();
    expect(model.job('k1', 'bg-9')).toBeUndefined();
    expect(model.job('k1', 'bg-10')).toBeDefined();
    expect(model.job('k2', 'other')).toBeDefined();
  });

  it('clears finished jobs of one kernel or all', () => {
    const model = new JobsModel();
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ id: 'a' }), job({ id: 'b', state: 'failed' })] });
    model.apply('k2', { type: 'jobs_updated', jobs: [job({ id: 'c', state: 'cancelled' })] });
    model.clearFinished('k1');
    expect(model.entries().map(e => e.info.id).sort()).toEqual(['a', 'c']);
    model.clearFinished();
    expect(model.entries().map(e => e.info.id)).toEqual(['a']);
  });

  it('keeps the jobs of two kernels apart, even with the same ids', () => {
    const model = new JobsModel();
    model.setPath('k1', 'a.ipynb');
    model.setPath('k2', 'b.ipynb');
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ done: 1 })] });
    model.apply('k2', { type: 'jobs_updated', jobs: [job({ done: 2 })] });
    expect(model.job('k1', 'bg-1')?.info.done).toBe(1);
    expect(model.job('k2', 'bg-1')?.path).toBe('b.ipynb');
    model.removeKernel('k1');
    expect(model.entries().map(e => e.kernelId)).toEqual(['k2']);
  });

  it('drops a restarted kernel’s jobs but keeps its path', () => {
    const model = new JobsModel();
    const seen = watch(model);
    model.setPath('k1', 'a.ipynb');
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ state: 'finished' })] });
    model.dropJobs('k1');
    expect(model.entries()).toHaveLength(0);
    // After a restart job ids start again: bg-1 ending again is a new end.
    model.apply('k1', { type: 'jobs_updated', jobs: [job()] });
    model.apply('k1', { type: 'job_ended', job: job({ state: 'finished' }) });
    expect(seen.ended).toHaveLength(1);
    expect(model.job('k1', 'bg-1')?.path).toBe('a.ipynb');
  });
});

describe('selectors', () => {
  it('summarizes running jobs: count and sum done / sum total', () => {
    const model = new JobsModel();
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ id: 'a', done: 30, total: 50 })] });
    model.apply('k2', {
      type: 'jobs_updated',
      jobs: [
        job({ id: 'b', state: 'waiting', done: 34, total: 50 }),
        job({ id: 'c', state: 'finished', done: 1, total: 1000 })
      ]
    });
    expect(summarize(model.entries())).toEqual({ running: 2, percent: 64 });
    expect(summarize([])).toEqual({ running: 0, percent: null });
  });

  it('sorts running jobs first, newest first', () => {
    const model = new JobsModel();
    model.apply('k1', {
      type: 'jobs_updated',
      jobs: [
        job({ id: 'old-done', state: 'finished', started: 1 }),
        job({ id: 'new-done', state: 'finished', started: 9 }),
        job({ id: 'old-run', started: 2 }),
        job({ id: 'new-run', started: 8 })
      ]
    });
    expect(sortJobs(model.entries()).map(e => e.info.id)).toEqual([
      'new-run',
      'old-run',
      'new-done',
      'old-done'
    ]);
  });

  it('ticks elapsed time of running jobs only', () => {
    const model = new JobsModel(() => 10_000);
    model.apply('k1', { type: 'jobs_updated', jobs: [job({ id: 'r', elapsed: 3 }), job({ id: 'f', state: 'finished', elapsed: 3 })] });
    expect(liveElapsed(model.job('k1', 'r')!, 12_500)).toBeCloseTo(5.5);
    expect(liveElapsed(model.job('k1', 'f')!, 12_500)).toBe(3);
  });

  it('finds running background jobs by cell', () => {
    const model = new JobsModel();
    model.apply('k1', {
      type: 'jobs_updated',
      jobs: [
        job({ id: 'a', cell_id: 'x' }),
        job({ id: 'b', cell_id: 'y', state: 'finished' }),
        job({ id: 'c', cell_id: 'z', kind: 'foreground', number: null })
      ]
    });
    expect([...runningByCell(model.entries()).keys()]).toEqual(['x']);
  });
});
