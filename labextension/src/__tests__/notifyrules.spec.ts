import { describe, expect, it } from 'vitest';

import { notifyLevel, shouldNotify, shouldNotifyDesktop } from '../notifyrules';
import { DEFAULT_SETTINGS } from '../settings';
import { job } from './jobs';

describe('notify rules', () => {
  it('notifies only the end of jobs that ran at least the threshold', () => {
    const settings = { ...DEFAULT_SETTINGS, notifyThreshold: 10 };
    expect(shouldNotify(job({ state: 'finished', elapsed: 9.9 }), settings)).toBe(false);
    expect(shouldNotify(job({ state: 'finished', elapsed: 10 }), settings)).toBe(true);
    expect(shouldNotify(job({ state: 'failed', elapsed: 0.2 }), { ...settings, notifyThreshold: 0 })).toBe(true);
  });

  it('picks the level from the outcome', () => {
    expect(notifyLevel(job({ state: 'failed' }))).toBe('error');
    expect(notifyLevel(job({ state: 'cancelled' }))).toBe('warning');
    expect(notifyLevel(job({ state: 'finished' }))).toBe('success');
  });

  it('adds a desktop notification only when on, hidden and allowed', () => {
    const on = { ...DEFAULT_SETTINGS, desktopNotifications: true };
    expect(shouldNotifyDesktop(on, true, 'granted')).toBe(true);
    expect(shouldNotifyDesktop(on, false, 'granted')).toBe(false);
    expect(shouldNotifyDesktop(on, true, 'default')).toBe(false);
    expect(shouldNotifyDesktop(on, true, 'denied')).toBe(false);
    expect(shouldNotifyDesktop(on, true, null)).toBe(false);
    expect(shouldNotifyDesktop(DEFAULT_SETTINGS, true, 'granted')).toBe(false);
  });
});
