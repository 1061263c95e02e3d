/**
 * Our end of the `kernel_ext.jobs` comm, spoken over a kernel connection that
 * does not handle comms itself.
 *
 * Why not `kernel.createComm`: only one connection per kernel on a page may
 * handle comms. The notebook's own connection is that one; a second one that
 * handles comms would answer the kernel's widget `comm_open`s with
 * `comm_close` (it has no `jupyter.widget` target) and break ipywidgets, and
 * taking the role first would leave the notebook without comms. So this
 * class sends `comm_open`/`comm_msg`/`comm_close` itself and reads the
 * kernel's `comm_msg`s for its comm id from iopub. It opens on a subshell of
 * its own when the kernel has subshells (JEP 91: what CommsOverSubshells.PerComm
 * does), so commands are served while the main shell runs a cell.
 */
import { UUID } from '@lumino/coreutils';
import type { JSONObject } from '@lumino/coreutils';
import type { IDisposable } from '@lumino/disposable';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { COMM_TARGET, FrontendHello, FrontendMessage } from './protocol';

function toJSON(message: FrontendMessage): JSONObject {
  const data: JSONObject = {};
  // Every frontend message field is a string or a number (protocol.py).
  for (const [key, value] of Object.entries(message) as [string, string | number][]) {
    data[key] = value;
  }
  return data;
}

export class JobsComm implements IDisposable {
  readonly commId = UUID.uuid4();

  constructor(
    private readonly _kernel: Kernel.IKernelConnection,
    private readonly _onData: (data: unknown) => void,
    private readonly _onClose: () => void
  ) {}

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Start a subshell if the kernel has them, then send `comm_open` with our hello. */
  async open(hello: FrontendHello): Promise<void> {
    await this._kernel.info;
    if (this._kernel.supportsSubshells && !this._disposed) {
      try {
        const reply = await this._kernel.requestCreateSubshell({}).done;
        const id: unknown = reply.content.subshell_id;
        this._subshellId = typeof id === 'string' ? id : null;
      } catch (reason) {
        console.debug('kernel-ext: no subshell, using the main shell', reason);
      }
    }
    if (this._disposed) {
      return;
    }
    this._kernel.iopubMessage.connect(this._onIopub, this);
    this._send('comm_open', toJSON(hello));
    this._open = true;
  }

  /** Send one command; false if the comm is not open. */
  send(message: FrontendMessage): boolean {
    if (!this._open || this._disposed) {
      return false;
    }
    this._send('comm_msg', toJSON(message));
    return true;
  }

  /** Close the comm (telling the kernel, if it still runs) and let go of the subshell. */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._kernel.iopubMessage.disconnect(this._onIopub, this);
    const alive = !this._kernel.isDisposed && this._kernel.connectionStatus === 'connected';
    const running = !['restarting', 'autorestarting', 'dead'].includes(this._kernel.status);
    if (this._open && alive && running) {
      try {
        this._send('comm_close', {});
        if (this._subshellId !== null) {
          this._kernel.requestDeleteSubshell({ subshell_id: this._subshellId }).done.catch(() => {
            /* the kernel may be going away */
          });
        }
      } catch (reason) {
        console.debug('kernel-ext: could not close the comm', reason);
      }
    }
    this._open = false;
  }

  private _send(msgType: 'comm_open' | 'comm_msg' | 'comm_close', data: JSONObject): void {
    const comm_id = this.commId;
    const options = {
      channel: 'shell' as const,
      session: this._kernel.clientId,
      username: this._kernel.username,
      subshellId: this._subshellId
    };
    const msg: KernelMessage.IShellMessage =
      msgType === 'comm_open'
        ? KernelMessage.createMessage<KernelMessage.ICommOpenMsg<'shell'>>({
            ...options,
            msgType,
            content: { comm_id, target_name: COMM_TARGET, data }
          })
        : msgType === 'comm_msg'
          ? KernelMessage.createMessage<KernelMessage.ICommMsgMsg<'shell'>>({
              ...options,
              msgType,
              content: { comm_id, data }
            })
          : KernelMessage.createMessage<KernelMessage.ICommCloseMsg<'shell'>>({
              ...options,
              msgType,
              content: { comm_id, data }
            });
    this._kernel.sendShellMessage(msg, false, true);
  }

  private _onIopub(_: Kernel.IKernelConnection, msg: KernelMessage.IIOPubMessage): void {
    if (KernelMessage.isCommMsgMsg(msg) && msg.content.comm_id === this.commId) {
      this._onData(msg.content.data);
    } else if (KernelMessage.isCommCloseMsg(msg) && msg.content.comm_id === this.commId) {
      this._open = false;
      this._onClose();
    }
  }

  private _open = false;
  private _disposed = false;
  private _subshellId: string | null = null;
}
