/**
 * Requests to one kernel, matched to their `reply`/`error` by `request_id`.
 * Every request settles: on the answer, on its timeout, or when the kernel goes.
 */
import { KernelError, KernelReply } from './protocol';

/** How long a request waits for the kernel's answer by default. */
export const REQUEST_TIMEOUT_MS = 10_000;

interface IPending {
  what: string;
  resolve: (message: string) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class PendingRequests {
  constructor(private readonly _timeoutMs = REQUEST_TIMEOUT_MS) {}

  /** A request id not used before on this page. */
  newId(): string {
    PendingRequests._counter += 1;
    return `kx-${PendingRequests._session}-${PendingRequests._counter}`;
  }

  /**
   * A promise for the answer to request `requestId` (`what` names it in errors):
   * resolves with the reply's message when ok, rejects when the reply is not ok,
   * on an error message, on timeout, or on `rejectAll`.
   */
  track(requestId: string, what: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(requestId);
        const seconds = (this._timeoutMs / 1000).toFixed(0);
        reject(new Error(`kernel-ext: ${what}: no answer from the kernel within ${seconds} s`));
      }, this._timeoutMs);
      this._pending.set(requestId, { what, resolve, reject, timer });
    });
  }

  /** Settle the request a reply or error answers; false if none waits for it. */
  settle(message: KernelReply | KernelError): boolean {
    if (message.request_id === null) {
      return false;
    }
    const pending = this._pending.get(message.request_id);
    if (!pending) {
      return false;
    }
    this._pending.delete(message.request_id);
    clearTimeout(pending.timer);
    if (message.type === 'reply' && message.ok) {
      pending.resolve(message.message);
    } else {
      pending.reject(new Error(`kernel-ext: ${pending.what}: ${message.message}`));
    }
    return true;
  }

  /** Reject every waiting request (the kernel restarted or went away). */
  rejectAll(reason: string): void {
    this._pending.forEach(pending => {
      clearTimeout(pending.timer);
      pending.reject(new Error(`kernel-ext: ${pending.what}: ${reason}`));
    });
    this._pending.clear();
  }

  /** How many requests wait for an answer. */
  get size(): number {
    return this._pending.size;
  }

  private _pending = new Map<string, IPending>();
  private static _counter = 0;
  private static _session = Math.random().toString(36).slice(2, 10);
}
