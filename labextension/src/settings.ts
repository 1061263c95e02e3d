/** The extension's settings (schema/plugin.json), applied live. */
import { ISignal, Signal } from '@lumino/signaling';

export interface ISettingsValues {
  /** Seconds a job must have run for its end to be notified. */
  notifyThreshold: number;
  /** Also show a browser notification while the page is hidden. */
  desktopNotifications: boolean;
  /** Seconds between redraws of the panel, status bar and badges. */
  refreshRate: number;
}

export const DEFAULT_SETTINGS: ISettingsValues = {
  notifyThreshold: 10,
  desktopNotifications: false,
  refreshRate: 0.5
};

function numberOr(value: unknown, fallback: number, min: number): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(min, value) : fallback;
}

/** Settings from the registry's composite (unknown) values, with defaults for anything odd. */
export function readSettings(composite: Record<string, unknown>): ISettingsValues {
  return {
    notifyThreshold: numberOr(composite.notifyThreshold, DEFAULT_SETTINGS.notifyThreshold, 0),
    desktopNotifications:
      typeof composite.desktopNotifications === 'boolean'
        ? composite.desktopNotifications
        : DEFAULT_SETTINGS.desktopNotifications,
    refreshRate: numberOr(composite.refreshRate, DEFAULT_SETTINGS.refreshRate, 0.1)
  };
}

/** The current settings, and a signal when they change. */
export class Settings {
  get values(): ISettingsValues {
    return this._values;
  }

  /** The refresh interval in milliseconds. */
  get refreshMs(): number {
    return this._values.refreshRate * 1000;
  }

  get changed(): ISignal<this, ISettingsValues> {
    return this._changed;
  }

  update(values: ISettingsValues): void {
    this._values = values;
    this._changed.emit(values);
  }

  private _values: ISettingsValues = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<this, ISettingsValues>(this);
}
