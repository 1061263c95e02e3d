/** The "Parallel jobs" sidebar: one row per job, redrawn at most at the refresh rate. */
import { Widget } from '@lumino/widgets';
import type { Message } from '@lumino/messaging';

import { jobsIcon } from './icon';
import { JobsModel } from './model';
import { IRowActions, JobRow } from './row';
import { sortJobs, summarize } from './selectors';
import { Throttle } from './throttle';

export const PANEL_ID = 'kernel-ext-jobs-panel';

export interface IPanelActions extends IRowActions {
  clearFinished(): void;
}

export class JobsPanel extends Widget {
  constructor(
    private readonly _model: JobsModel,
    private readonly _actions: IPanelActions,
    refreshMs: () => number
  ) {
    super();
    this.id = PANEL_ID;
    this.addClass('kx-jobs-panel');
    this.title.icon = jobsIcon;
    this.title.caption = 'Parallel jobs';
    const header = document.createElement('div');
    header.className = 'kx-jobs-header';
    const title = document.createElement('h2');
    title.className = 'kx-jobs-title';
    title.textContent = 'Parallel jobs';
    const clear = document.createElement('button');
    clear.className = 'jp-Button jp-mod-styled jp-mod-reject kx-clear-finished';
    clear.textContent = 'Clear finished';
    clear.addEventListener('click', () => this._actions.clearFinished());
    header.append(title, clear);
    this._empty.className = 'kx-jobs-empty';
    this._empty.textContent =
      'No parallel jobs. Jobs of notebooks whose kernel has run `%load_ext kernel_ext` show here.';
    this._list.className = 'kx-jobs-list';
    this.node.append(header, this._empty, this._list);
    // Redraw on changes, and keep ticking elapsed times while jobs run.
    this._throttle = new Throttle(() => this._render(), () => Math.max(refreshMs(), 100));
    this._ticker = new Throttle(() => this._throttle.schedule(), () => 1000);
    _model.changed.connect(() => this._throttle.schedule(), this);
    this._render();
  }

  dispose(): void {
    this._throttle.dispose();
    this._ticker.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._throttle.schedule();
  }

  private _render(): void {
    const entries = this._model.entries();
    const now = Date.now();
    const seen = new Set<string>();
    const sorted = sortJobs(entries);
    sorted.forEach((entry, index) => {
      const key = `${entry.kernelId}/${entry.info.id}`;
      seen.add(key);
      let row = this._rows.get(key);
      if (!row) {
        row = new JobRow(entry, this._actions);
        this._rows.set(key, row);
      }
      row.update(entry, now);
      if (this._list.children[index] !== row.node) {
        this._list.insertBefore(row.node, this._list.children[index] ?? null);
      }
    });
    for (const [key, row] of this._rows) {
      if (!seen.has(key)) {
        row.node.remove();
        this._rows.delete(key);
      }
    }
    this._empty.hidden = sorted.length > 0;
    if (summarize(entries).running > 0 && this.isVisible) {
      this._ticker.schedule();
    }
  }

  private _rows = new Map<string, JobRow>();
  private _list = document.createElement('ul');
  private _empty = document.createElement('div');
  private _throttle: Throttle;
  private _ticker: Throttle;
}

