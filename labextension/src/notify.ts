/** Notifications when a long job ends: in JupyterLab, and on the desktop when the tab is hidden. */
import { Notification } from '@jupyterlab/apputils';

import { endedText } from './format';
import { IJobEntry, JobsModel } from './model';
import { notifyLevel, shouldNotify, shouldNotifyDesktop } from './notifyrules';
import { Settings } from './settings';

export class JobNotifier {
  constructor(
    model: JobsModel,
    private readonly _settings: Settings,
    private readonly _goTo: (entry: IJobEntry) => void
  ) {
    model.ended.connect((_, entry) => this._notify(entry), this);
    _settings.changed.connect((_, values) => {
      if (values.desktopNotifications) {
        void requestDesktopPermission();
      }
    }, this);
  }

  private _notify(entry: IJobEntry): void {
    const { info } = entry;
    if (!shouldNotify(info, this._settings.values)) {
      return;
    }
    const text = endedText(info, entry.path);
    const options = {
      autoClose: info.state === 'failed' ? (false as const) : 8000,
      actions: [{ label: 'Go to cell', callback: () => this._goTo(entry) }]
    };
    Notification[notifyLevel(info)](text, options);
    const permission = browserNotifications()?.permission ?? null;
    if (shouldNotifyDesktop(this._settings.values, document.hidden, permission)) {
      showDesktop(text, () => this._goTo(entry));
    }
  }
}

function browserNotifications(): typeof window.Notification | null {
  return typeof window !== 'undefined' && 'Notification' in window ? window.Notification : null;
}

/** Ask the browser for permission to show desktop notifications (once it is asked for). */
export async function requestDesktopPermission(): Promise<void> {
  const api = browserNotifications();
  if (api && api.permission === 'default') {
    try {
      await api.requestPermission();
    } catch (reason) {
      console.debug('kernel-ext: desktop notification permission not given', reason);
    }
  }
}

function showDesktop(text: string, onClick: () => void): void {
  const api = browserNotifications();
  if (!api) {
    return;
  }
  const note = new api('kernel_ext', { body: text, tag: 'kernel-ext' });
  note.onclick = () => {
    window.focus();
    onClick();
    note.close();
  };
}
