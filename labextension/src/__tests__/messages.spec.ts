import { describe, expect, it } from 'vitest';

import { parseKernelMessage } from '../messages';
import { KERNEL_MESSAGE_FIELDS } from '../protocol';
import { job } from './jobs';

const valid: Record<string, unknown> = {
  hello: { type: 'hello', protocol: 1, kernel_ext: '0.1.0', refresh: 0.5 },
  snapshot: { type: 'snapshot', jobs: [job(), job({ id: 'fg-2.1', kind: 'foreground', number: null })] },
  jobs_updated: { type: 'jobs_updated', jobs: [] },
  job_ended: { type: 'job_ended', job: job({ state: 'failed', ended: 1010, error: 'ValueError: x' }) },
  reply: { type: 'reply', request_id: 'r1', ok: true, message: 'cancelled' },
  error: { type: 'error', request_id: null, message: 'unknown message type' }
};

function reason(data: unknown): string {
  const result = parseKernelMessage(data);
  expect(result.ok).toBe(false);
  return result.ok ? '' : result.reason;
}

describe('parseKernelMessage', () => {
  it('has a valid example of every kernel message type', () => {
    expect(Object.keys(valid).sort()).toEqual(Object.keys(KERNEL_MESSAGE_FIELDS).sort());
  });

  it.each(Object.entries(valid))('accepts a valid %s message', (type, data) => {
    const result = parseKernelMessage(data);
    expect(result).toEqual({ ok: true, message: data });
    expect(result.ok && result.message.type).toBe(type);
  });

  it('accepts extra fields a newer kernel may add', () => {
    expect(parseKernelMessage({ ...(valid.hello as object), extra: [1] }).ok).toBe(true);
  });

  it.each([null, 3, 'hello', [valid.hello], undefined])('rejects the non-object %j', data => {
    expect(reason(data)).toMatch(/expected a JSON object/);
  });

  it('rejects unknown and missing types', () => {
    expect(reason({ type: 'exec', code: 'import os' })).toMatch(/unknown message type "exec"/);
    expect(reason({ protocol: 1 })).toMatch(/unknown message type/);
    expect(reason({ type: 'toString' })).toMatch(/unknown message type/);
  });

  it('rejects a missing field', () => {
    expect(reason({ type: 'reply', request_id: 'r1', ok: true })).toBe('reply.message: missing');
  });

  it('rejects a mistyped field', () => {
    expect(reason({ type: 'reply', request_id: 'r1', ok: 'yes', message: '' })).toMatch(
      /^reply\.ok: expected boolean/
    );
    expect(reason({ type: 'hello', protocol: '1', kernel_ext: '0.1', refresh: 1 })).toMatch(
      /^hello\.protocol: expected a finite number/
    );
    expect(reason({ type: 'error', request_id: 5, message: 'x' })).toMatch(
      /^error\.request_id: expected string\|null/
    );
  });

  it('rejects a bad job inside a list, naming where', () => {
    const bad = { ...job(), total: null };
    expect(reason({ type: 'snapshot', jobs: [job(), bad] })).toMatch(/^snapshot\.jobs\[1\]\.total/);
    expect(reason({ type: 'snapshot', jobs: job() })).toMatch(/expected JobInfo\[\]/);
    const missing: Record<string, unknown> = { ...job() };
    delete missing.cell_id;
    expect(reason({ type: 'job_ended', job: missing })).toBe('job_ended.job.cell_id: missing');
  });

  it('rejects a bad enum value', () => {
    expect(reason({ type: 'job_ended', job: job({ state: 'exploded' as never }) })).toMatch(
      /job_ended\.job\.state: expected one of waiting, running/
    );
    expect(reason({ type: 'jobs_updated', jobs: [job({ kind: 'daemon' as never })] })).toMatch(
      /\.kind: expected one of foreground, background/
    );
  });
});
