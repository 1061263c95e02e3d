/**
 * One kernel, seen from the page: find out whether kernel_ext is loaded in it,
 * keep our comm to it open, and feed its messages to the model.
 */
import type { IDisposable } from '@lumino/disposable';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { JobsComm } from './comm';
import { parseKernelMessage } from './messages';
import { JobsModel } from './model';
import { COMM_TARGET, FrontendMessage, PROTOCOL_VERSION } from './protocol';
import { PendingRequests } from './requests';
import { Settings } from './settings';

// A kernel that says `starting` while we are connected was restarted (a restart
// asked for by another client or through the REST API shows only as that).
const GONE: readonly Kernel.Status[] = ['restarting', 'autorestarting', 'dead', 'starting'];

export class KernelJobsClient implements IDisposable {
  constructor(
    readonly kernel: Kernel.IKernelConnection,
    private readonly _model: JobsModel,
    private readonly _settings: Settings,
    private readonly _client: string
  ) {
    kernel.statusChanged.connect(this._onStatus, this);
    kernel.iopubMessage.connect(this._onIopub, this);
    kernel.connectionStatusChanged.connect(this._onConnection, this);
    void kernel.info.then(() => this._probe()).catch(() => undefined);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether our comm to kernel_ext in this kernel is open. */
  get attached(): boolean {
    return this._comm !== null;
  }

  cancel(jobId: string): Promise<string> {
    const request_id = this._requests.newId();
    return this._request({ type: 'cancel_job', request_id, job_id: jobId }, `cancel ${jobId}`);
  }

  clearFinished(): Promise<string> {
    const request_id = this._requests.newId();
    return this._request({ type: 'clear_finished', request_id }, 'clear finished jobs');
  }

  getJobs(): Promise<string> {
    const request_id = this._requests.newId();
    return this._request({ type: 'get_jobs', request_id }, 'list jobs');
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._detach('the kernel connection closed');
    this._model.removeKernel(this.kernel.id);
    this.kernel.dispose();
  }

  private _request(
    message: Exclude<FrontendMessage, { type: 'hello' }>,
    what: string
  ): Promise<string> {
    if (!this._comm) {
      return Promise.reject(new Error(`kernel-ext: ${what}: kernel_ext is not attached`));
    }
    const answer = this._requests.track(message.request_id, what);
    this._comm.send(message);
    return answer;
  }

  /** Ask the kernel whether kernel_ext's marker comm is registered; attach if so. */
  private async _probe(): Promise<void> {
    if (this._probing) {
      this._probeAgain = true; // a cell ended while we asked: ask once more after
      return;
    }
    if (this._disposed || this._comm) {
      return;
    }
    this._probing = true;
    try {
      const reply = await this.kernel.requestCommInfo({ target_name: COMM_TARGET });
      const content = reply.content;
      const loaded =
        content.status === 'ok' &&
        Object.values(content.comms).some(comm => comm.target_name === COMM_TARGET);
      if (loaded && !this._disposed && !this._comm) {
        await this._attach();
      } else if (!loaded) {
        console.debug(`kernel-ext: kernel ${this.kernel.id} has no kernel_ext loaded`);
      }
    } catch (reason) {
      console.debug(`kernel-ext: could not ask kernel ${this.kernel.id}`, reason);
    } finally {
      this._probing = false;
    }
    if (this._probeAgain) {
      this._probeAgain = false;
      await this._probe();
    }
  }

  private async _attach(): Promise<void> {
    const comm = new JobsComm(
      this.kernel,
      data => this._onData(data),
      () => this._detach('kernel_ext closed the comm')
    );
    this._comm = comm;
    const refresh = this._settings.values.refreshRate;
    await comm.open({ type: 'hello', protocol: PROTOCOL_VERSION, client: this._client, refresh });
  }

  private _detach(reason: string): void {
    this._requests.rejectAll(reason);
    this._comm?.dispose();
    this._comm = null;
    this._model.dropJobs(this.kernel.id);
  }

  private _onData(data: unknown): void {
    const parsed = parseKernelMessage(data);
    if (!parsed.ok) {
      console.warn(`kernel-ext: ignored a message from kernel ${this.kernel.id}: ${parsed.reason}`);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'hello':
        if (message.protocol !== PROTOCOL_VERSION) {
          console.warn(
            `kernel-ext: kernel_ext ${message.kernel_ext} speaks protocol ${message.protocol}, ` +
              `this page speaks ${PROTOCOL_VERSION}: upgrade the older side`
          );
        }
        break;
      case 'reply':
      case 'error':
        if (!this._requests.settle(message) && message.type === 'error') {
          console.warn(`kernel-ext: kernel ${this.kernel.id}: ${message.message}`);
        }
        break;
      default:
        this._model.apply(this.kernel.id, message);
    }
  }

  private _onStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (GONE.includes(status)) {
      this._lookWhenIdle = true;
      if (this._comm) {
        this._detach(`the kernel is ${status}`);
      }
    } else if (status === 'idle' && this._lookWhenIdle) {
      // Back from a (re)start: kernel_ext may have been loaded at startup.
      this._lookWhenIdle = false;
      void this._probe();
    }
  }

  /**
   * Spot restarts by the kernel's session id changing (a restart through the REST
   * API or another page may show no `restarting` status here), and after every
   * cell the user runs (it may have been `%load_ext kernel_ext`) look again.
   */
  private _onIopub(_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void {
    const session = msg.header.session;
    if (this._kernelSession !== null && session && session !== this._kernelSession) {
      this._lookWhenIdle = true;
      if (this._comm) {
        this._detach('the kernel restarted');
      }
    }
    this._kernelSession = session || this._kernelSession;
    if (this._comm || !KernelMessage.isStatusMsg(msg) || msg.content.execution_state !== 'idle') {
      return;
    }
    const parent = msg.parent_header as Partial<KernelMessage.IHeader>;
    if (parent.msg_type === 'execute_request' || this._lookWhenIdle) {
      this._lookWhenIdle = false;
      void this._probe();
    }
  }

  /** A dropped websocket may have lost messages: ask for the jobs again when back. */
  private _onConnection(_: Kernel.IKernelConnection, status: Kernel.ConnectionStatus): void {
    if (status === 'connected' && this._comm) {
      this.getJobs().catch(reason => console.debug('kernel-ext: could not refresh jobs', reason));
    }
  }

  private _comm: JobsComm | null = null;
  private _probing = false;
  private _probeAgain = false;
  private _disposed = false;
  private _lookWhenIdle = true;
  private _kernelSession: string | null = null;
  private _requests = new PendingRequests();
}
