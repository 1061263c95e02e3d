/** When a job's end is worth telling the user about, and how loudly (pure: unit-tested). */
import type { JobInfo } from './protocol';
import type { ISettingsValues } from './settings';

export type NotifyLevel = 'success' | 'error' | 'warning';

/** Only the end of a job that ran at least the threshold (setting `notifyThreshold`). */
export function shouldNotify(info: JobInfo, settings: ISettingsValues): boolean {
  return info.elapsed >= settings.notifyThreshold;
}

/** Failed: error; cancelled: warning; finished: success. */
export function notifyLevel(info: JobInfo): NotifyLevel {
  if (info.state === 'failed') {
    return 'error';
  }
  return info.state === 'cancelled' ? 'warning' : 'success';
}

/** Also a desktop notification: the setting is on, the tab is hidden, the user allowed it. */
export function shouldNotifyDesktop(
  settings: ISettingsValues,
  hidden: boolean,
  permission: string | null
): boolean {
  return settings.desktopNotifications && hidden && permission === 'granted';
}
