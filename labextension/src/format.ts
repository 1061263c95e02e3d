/** Pure text helpers shared by the panel, the status bar and notifications. */
import type { JobInfo } from './protocol';

/** `job 3` for a background job, `[12]` for a cell run in the foreground. */
export function jobLabel(job: Pick<JobInfo, 'kind' | 'number' | 'execution_count' | 'id'>): string {
  if (job.kind === 'background' && job.number !== null) {
    return `job ${job.number}`;
  }
  if (job.execution_count !== null) {
    return `[${job.execution_count}]`;
  }
  return job.kind === 'background' ? 'job' : '[ ]';
}

/** Seconds as `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  const whole = Math.floor(s);
  if (whole < 3600) {
    const min = Math.floor(whole / 60);
    return `${min} min ${String(whole % 60).padStart(2, '0')} s`;
  }
  const h = Math.floor(whole / 3600);
  const min = Math.floor((whole % 3600) / 60);
  return `${h} h ${String(min).padStart(2, '0')} min`;
}

/** The file name of a server path: `analysis.ipynb` for `work/analysis.ipynb`. */
export function baseName(path: string): string {
  const parts = path.split('/').filter(part => part !== '');
  return parts.length > 0 ? parts[parts.length - 1] : path;
}

/** Whole percent done of `done` out of `total` (floored: 100 only when all are done). */
export function percent(done: number, total: number): number {
  if (total <= 0) {
    return 0;
  }
  return Math.max(0, Math.min(100, Math.floor((100 * done) / total)));
}

/** The status bar text: `2 jobs · 64%`, or '' when nothing runs. */
export function summaryText(running: number, percentDone: number | null): string {
  if (running <= 0) {
    return '';
  }
  const jobs = running === 1 ? '1 job' : `${running} jobs`;
  return percentDone === null ? jobs : `${jobs} · ${percentDone}%`;
}

/** The one-line notification text for a job that ended. */
export function endedText(job: JobInfo, path: string): string {
  const where = baseName(path);
  const label = jobLabel(job);
  const took = formatDuration(job.elapsed);
  switch (job.state) {
    case 'failed':
      return `${label} failed after ${took} — ${where}` + (job.error ? `: ${job.error}` : '');
    case 'cancelled':
      return `${label} cancelled after ${took} — ${where}`;
    default:
      return `${label} finished in ${took} — ${where}`;
  }
}

/** The progress text of a row: `450/1000`, with failures: `450/1000 · 3 failed`. */
export function progressText(job: Pick<JobInfo, 'done' | 'total' | 'failed'>): string {
  const base = `${job.done}/${job.total}`;
  return job.failed > 0 ? `${base} · ${job.failed} failed` : base;
}
