import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { PendingRequests } from '../requests';
import { Throttle } from '../throttle';

describe('PendingRequests', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('gives fresh ids', () => {
    const requests = new PendingRequests();
    expect(requests.newId()).not.toBe(requests.newId());
  });

  it('resolves on an ok reply and rejects on a refusal or an error', async () => {
    const requests = new PendingRequests();
    const ok = requests.track('r1', 'cancel bg-1');
    const refused = requests.track('r2', 'cancel bg-2');
    const failed = requests.track('r3', 'list jobs');
    expect(requests.settle({ type: 'reply', request_id: 'r1', ok: true, message: 'cancelled' })).toBe(true);
    requests.settle({ type: 'reply', request_id: 'r2', ok: false, message: 'no such job' });
    requests.settle({ type: 'error', request_id: 'r3', message: 'bad' });
    await expect(ok).resolves.toBe('cancelled');
    await expect(refused).rejects.toThrow('cancel bg-2: no such job');
    await expect(failed).rejects.toThrow('list jobs: bad');
    expect(requests.size).toBe(0);
  });

  it('ignores answers nobody waits for', () => {
    const requests = new PendingRequests();
    expect(requests.settle({ type: 'reply', request_id: 'nope', ok: true, message: '' })).toBe(false);
    expect(requests.settle({ type: 'error', request_id: null, message: 'x' })).toBe(false);
  });

  it('rejects after the timeout, and on rejectAll', async () => {
    const requests = new PendingRequests(10_000);
    const late = requests.track('r1', 'cancel bg-1');
    const other = requests.track('r2', 'list jobs');
    vi.advanceTimersByTime(9_999);
    expect(requests.size).toBe(2);
    vi.advanceTimersByTime(1);
    await expect(late).rejects.toThrow('cancel bg-1: no answer from the kernel within 10 s');
    await expect(other).rejects.toThrow(/no answer/);
    const gone = requests.track('r3', 'clear');
    requests.rejectAll('the kernel is restarting');
    await expect(gone).rejects.toThrow('clear: the kernel is restarting');
  });
});

describe('Throttle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs at most once per interval', () => {
    let runs = 0;
    const throttle = new Throttle(() => (runs += 1), () => 500);
    throttle.schedule();
    throttle.schedule();
    vi.advanceTimersByTime(0);
    expect(runs).toBe(1);
    throttle.schedule();
    throttle.schedule();
    vi.advanceTimersByTime(499);
    expect(runs).toBe(1);
    vi.advanceTimersByTime(1);
    expect(runs).toBe(2);
    throttle.schedule();
    throttle.dispose();
    vi.advanceTimersByTime(1000);
    expect(runs).toBe(2);
  });
});
