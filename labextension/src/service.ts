/**
 * Discovery: one KernelJobsClient per kernel of a running session (open
 * notebooks, and notebooks whose tab was closed), following the session list.
 */
import type { IDisposable } from '@lumino/disposable';
import { ServiceManager, Session } from '@jupyterlab/services';

import { KernelJobsClient } from './kernelclient';
import { JobsModel } from './model';
import { Settings } from './settings';

export class JobsService implements IDisposable {
  constructor(
    private readonly _manager: ServiceManager.IManager,
    readonly model: JobsModel,
    private readonly _settings: Settings,
    private readonly _client: string
  ) {
    _manager.sessions.runningChanged.connect(this._sync, this);
    void _manager.sessions.ready.then(() => this._sync());
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Ask a kernel to cancel one of its jobs. */
  cancel(kernelId: string, jobId: string): Promise<string> {
    const client = this._clients.get(kernelId);
    return client
      ? client.cancel(jobId)
      : Promise.reject(new Error(`kernel-ext: kernel ${kernelId} is gone`));
  }

  /** Drop finished jobs here and in every attached kernel. */
  async clearFinished(): Promise<void> {
    this.model.clearFinished();
    const asks = [...this._clients.values()].filter(c => c.attached).map(c => c.clearFinished());
    const outcomes = await Promise.allSettled(asks);
    outcomes.forEach(outcome => {
      if (outcome.status === 'rejected') {
        console.warn(String(outcome.reason));
      }
    });
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._manager.sessions.runningChanged.disconnect(this._sync, this);
    this._clients.forEach(client => client.dispose());
    this._clients.clear();
  }

  private _sync(): void {
    if (this._disposed) {
      return;
    }
    const paths = new Map<string, string>();
    const kernels = new Map<string, Session.IModel['kernel']>();
    for (const session of this._manager.sessions.running()) {
      if (session.kernel && !paths.has(session.kernel.id)) {
        paths.set(session.kernel.id, session.path);
        kernels.set(session.kernel.id, session.kernel);
      }
    }
    for (const [id, client] of this._clients) {
      if (!paths.has(id) || client.kernel.isDisposed) {
        client.dispose();
        this._clients.delete(id);
      }
    }
    for (const [id, kernel] of kernels) {
      if (kernel && !this._clients.has(id)) {
        // handleComms: false: the notebook's own connection handles comms (see comm.ts).
        const connection = this._manager.kernels.connectTo({ model: kernel, handleComms: false });
        this._clients.set(id, new KernelJobsClient(connection, this.model, this._settings, this._client));
      }
      this.model.setPath(id, paths.get(id) ?? '');
    }
  }

  private _clients = new Map<string, KernelJobsClient>();
  private _disposed = false;
}
