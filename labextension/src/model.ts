/**
 * The jobs of every attached kernel, fed by kernel messages. Pure TypeScript
 * (no DOM): the panel, status bar, badges and notifications read it.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { FINAL_JOB_STATES, JobInfo, JobState, KernelMessage } from './protocol';

/** Finished jobs kept per kernel; older ones are dropped first. */
export const MAX_FINISHED_PER_KERNEL = 50;
/** Ended job ids remembered per kernel, so `ended` fires once per job. */
const MAX_REMEMBERED_ENDED = 500;

/** One job as the views see it. */
export interface IJobEntry {
  kernelId: string;
  /** The server path of the kernel's notebook ('' while unknown). */
  path: string;
  info: JobInfo;
  /** When the model last received this job (ms, the model's clock), to tick `elapsed`. */
  receivedAt: number;
}

interface IKernelJobs {
  path: string;
  jobs: Map<string, IJobEntry>;
  ended: Set<string>;
}

export function isFinal(state: JobState): boolean {
  return FINAL_JOB_STATES.includes(state);
}

export class JobsModel {
  constructor(private readonly _now: () => number = Date.now) {}

  /** Emitted after any change of jobs or paths. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** Emitted once per job when it ends (seen ending, not listed as ended in a snapshot). */
  get ended(): ISignal<this, IJobEntry> {
    return this._ended;
  }

  /** Record the notebook path of a kernel (its session's path). */
  setPath(kernelId: string, path: string): void {
    const kernel = this._kernel(kernelId);
    if (kernel.path !== path) {
      kernel.path = path;
      kernel.jobs.forEach(entry => (entry.path = path));
      this._changed.emit();
    }
  }

  /** Apply one message from a kernel; `reply`, `error` and `hello` change nothing here. */
  apply(kernelId: string, message: KernelMessage): void {
    switch (message.type) {
      case 'snapshot':
        this._upsert(kernelId, message.jobs, true);
        break;
      case 'jobs_updated':
        this._upsert(kernelId, message.jobs, false);
        break;
      case 'job_ended':
        this._upsert(kernelId, [message.job], false, true);
        break;
      default:
        return;
    }
    this._changed.emit();
  }

  /** Drop a kernel's finished jobs (all kernels without an id). */
  clearFinished(kernelId?: string): void {
    let removed = false;
    for (const [id, kernel] of this._kernels) {
      if (kernelId !== undefined && id !== kernelId) {
        continue;
      }
      for (const [jobId, entry] of kernel.jobs) {
        if (isFinal(entry.info.state)) {
          kernel.jobs.delete(jobId);
          removed = true;
        }
      }
    }
    if (removed) {
      this._changed.emit();
    }
  }

  /** Forget a kernel: its jobs and path (shutdown, connection closed). */
  removeKernel(kernelId: string): void {
    this.dropJobs(kernelId);
    this._kernels.delete(kernelId);
  }

  /** Drop a kernel's jobs but keep its path (restart, comm gone). */
  dropJobs(kernelId: string): void {
    const kernel = this._kernels.get(kernelId);
    if (kernel && kernel.jobs.size > 0) {
      kernel.jobs.clear();
      kernel.ended.clear();
      this._changed.emit();
    }
  }

  /** Every job of every kernel, in no particular order (see selectors.ts). */
  entries(): IJobEntry[] {
    const all: IJobEntry[] = [];
    this._kernels.forEach(kernel => kernel.jobs.forEach(entry => all.push(entry)));
    return all;
  }

  /** One job, by kernel and job id. */
  job(kernelId: string, jobId: string): IJobEntry | undefined {
    return this._kernels.get(kernelId)?.jobs.get(jobId);
  }

  private _kernel(kernelId: string): IKernelJobs {
    let kernel = this._kernels.get(kernelId);
    if (!kernel) {
      kernel = { path: '', jobs: new Map(), ended: new Set() };
      this._kernels.set(kernelId, kernel);
    }
    return kernel;
  }

  private _upsert(kernelId: string, jobs: JobInfo[], snapshot: boolean, endMessage = false): void {
    const kernel = this._kernel(kernelId);
    const now = this._now();
    const endedNow: IJobEntry[] = [];
    const listed = new Set<string>();
    for (const info of jobs) {
      listed.add(info.id);
      const before = kernel.jobs.get(info.id);
      const entry: IJobEntry = { kernelId, path: kernel.path, info, receivedAt: now };
      kernel.jobs.set(info.id, entry);
      // A job ends for us when we saw it running, or the kernel says it just ended;
      // a snapshot's already-ended jobs (after a reload) ended before we looked.
      const seenEnding = before !== undefined && !isFinal(before.info.state);
      if (isFinal(info.state) && (seenEnding || endMessage) && !kernel.ended.has(info.id)) {
        this._remember(kernel, info.id);
        endedNow.push(entry);
      } else if (isFinal(info.state)) {
        this._remember(kernel, info.id);
      }
    }
    if (snapshot) {
      for (const jobId of [...kernel.jobs.keys()]) {
        if (!listed.has(jobId)) {
          kernel.jobs.delete(jobId);
        }
      }
    }
    this._cap(kernel);
    endedNow.forEach(entry => this._ended.emit(entry));
  }

  private _remember(kernel: IKernelJobs, jobId: string): void {
    kernel.ended.add(jobId);
    if (kernel.ended.size > MAX_REMEMBERED_ENDED) {
      const oldest = kernel.ended.values().next().value;
      if (oldest !== undefined) {
        kernel.ended.delete(oldest);
      }
    }
  }

  private _cap(kernel: IKernelJobs): void {
    const finished = [...kernel.jobs.values()].filter(e => isFinal(e.info.state));
    if (finished.length <= MAX_FINISHED_PER_KERNEL) {
      return;
    }
    const endTime = (e: IJobEntry): number => e.info.ended ?? e.info.started;
    finished.sort((a, b) => endTime(a) - endTime(b));
    finished
      .slice(0, finished.length - MAX_FINISHED_PER_KERNEL)
      .forEach(e => kernel.jobs.delete(e.info.id));
  }

  private _kernels = new Map<string, IKernelJobs>();
  private _changed = new Signal<this, void>(this);
  private _ended = new Signal<this, IJobEntry>(this);
}
