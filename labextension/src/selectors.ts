/** Views of the model's entries: display order and the status bar summary. */
import { percent } from './format';
import { IJobEntry, isFinal } from './model';

/** The status bar's numbers: jobs not yet ended and their overall percent. */
export interface ISummary {
  running: number;
  percent: number | null;
}

/** Not yet ended first, then ended; newest first within each. */
export function sortJobs(entries: IJobEntry[]): IJobEntry[] {
  const rank = (e: IJobEntry): number => (isFinal(e.info.state) ? 1 : 0);
  return [...entries].sort((a, b) => rank(a) - rank(b) || b.info.started - a.info.started);
}

/** Running (not yet ended) jobs and sum(done) / sum(total) over them. */
export function summarize(entries: IJobEntry[]): ISummary {
  let running = 0;
  let done = 0;
  let total = 0;
  for (const { info } of entries) {
    if (!isFinal(info.state)) {
      running += 1;
      done += info.done;
      total += info.total;
    }
  }
  return { running, percent: running > 0 && total > 0 ? percent(done, total) : null };
}

/** Seconds a job has run by `now` (ms): the kernel's figure plus time since it arrived. */
export function liveElapsed(entry: IJobEntry, now: number): number {
  if (isFinal(entry.info.state)) {
    return entry.info.elapsed;
  }
  return entry.info.elapsed + Math.max(0, now - entry.receivedAt) / 1000;
}

/** Seconds left by `now` (ms), counting down from the kernel's estimate. */
export function liveTimeLeft(entry: IJobEntry, now: number): number | null {
  if (isFinal(entry.info.state) || entry.info.time_left === null) {
    return null;
  }
  return Math.max(0, entry.info.time_left - Math.max(0, now - entry.receivedAt) / 1000);
}

/** Background jobs not yet ended, by the id of the cell that started them. */
export function runningByCell(entries: IJobEntry[]): Map<string, IJobEntry> {
  const byCell = new Map<string, IJobEntry>();
  for (const entry of entries) {
    const { info } = entry;
    if (info.kind === 'background' && info.cell_id !== null && !isFinal(info.state)) {
      byCell.set(info.cell_id, entry);
    }
  }
  return byCell;
}
