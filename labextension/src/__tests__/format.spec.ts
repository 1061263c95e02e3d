import { describe, expect, it } from 'vitest';

import {
  baseName,
  endedText,
  formatDuration,
  jobLabel,
  percent,
  progressText,
  summaryText
} from '../format';
import { job } from './jobs';

describe('format', () => {
  it('labels background jobs by number and foreground cells by execution count', () => {
    expect(jobLabel(job({ number: 3 }))).toBe('job 3');
    expect(jobLabel(job({ kind: 'foreground', number: null, execution_count: 12 }))).toBe('[12]');
    expect(jobLabel(job({ kind: 'foreground', number: null, execution_count: null }))).toBe('[ ]');
  });

  it('formats durations', () => {
    expect(formatDuration(0.04)).toBe('0.0 s');
    expect(formatDuration(12.34)).toBe('12.3 s');
    expect(formatDuration(245)).toBe('4 min 05 s');
    expect(formatDuration(7380)).toBe('2 h 03 min');
    expect(formatDuration(-1)).toBe('0.0 s');
  });

  it('takes the base name of a path', () => {
    expect(baseName('work/deep/analysis.ipynb')).toBe('analysis.ipynb');
    expect(baseName('top.ipynb')).toBe('top.ipynb');
  });

  it('floors percent so 100 means done', () => {
    expect(percent(999, 1000)).toBe(99);
    expect(percent(10, 10)).toBe(100);
    expect(percent(0, 0)).toBe(0);
  });

  it('writes the status bar summary', () => {
    expect(summaryText(0, null)).toBe('');
    expect(summaryText(1, 5)).toBe('1 job · 5%');
    expect(summaryText(2, 64)).toBe('2 jobs · 64%');
    expect(summaryText(2, null)).toBe('2 jobs');
  });

  it('writes progress and notification texts', () => {
    expect(progressText(job({ done: 4, total: 9 }))).toBe('4/9');
    expect(progressText(job({ done: 4, total: 9, failed: 2 }))).toBe('4/9 · 2 failed');
    const done = job({ number: 3, state: 'finished', elapsed: 12.34 });
    expect(endedText(done, 'a/b.ipynb')).toBe('job 3 finished in 12.3 s — b.ipynb');
    const failed = job({ number: 3, state: 'failed', elapsed: 2, error: 'failed at line 4: ValueError' });
    expect(endedText(failed, 'b.ipynb')).toBe(
      'job 3 failed after 2.0 s — b.ipynb: failed at line 4: ValueError'
    );
    expect(endedText(job({ state: 'cancelled', elapsed: 1 }), 'b.ipynb')).toBe(
      'job 1 cancelled after 1.0 s — b.ipynb'
    );
  });
});
