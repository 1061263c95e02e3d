/** The status bar item: `2 jobs · 64%` while anything runs; a click opens the panel. */
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { summaryText } from './format';
import { JobsModel } from './model';
import { summarize } from './selectors';
import { Throttle } from './throttle';

export class JobsStatus extends Widget {
  constructor(
    private readonly _model: JobsModel,
    onClick: () => void,
    refreshMs: () => number
  ) {
    super();
    this.addClass('kx-status');
    this.node.title = 'Parallel jobs: click to show them';
    this.node.addEventListener('click', onClick);
    this._throttle = new Throttle(() => this._render(), refreshMs);
    _model.changed.connect(() => this._throttle.schedule(), this);
    this._render();
  }

  /** Whether anything runs (the status bar shows the item only then). */
  get active(): boolean {
    return this._active;
  }

  get activeChanged(): ISignal<this, void> {
    return this._activeChanged;
  }

  dispose(): void {
    this._throttle.dispose();
    super.dispose();
  }

  private _render(): void {
    const summary = summarize(this._model.entries());
    const text = summaryText(summary.running, summary.percent);
    if (this.node.textContent !== text) {
      this.node.textContent = text;
    }
    const active = summary.running > 0;
    this.node.dataset.running = String(summary.running);
    if (active !== this._active) {
      this._active = active;
      this._activeChanged.emit();
    }
  }

  private _throttle: Throttle;
  private _active = false;
  private _activeChanged = new Signal<this, void>(this);
}
