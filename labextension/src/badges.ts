/** A live badge in the prompt of each cell whose background job runs. */
import { INotebookTracker } from '@jupyterlab/notebook';

import { percent } from './format';
import { IJobEntry, JobsModel } from './model';
import { runningByCell } from './selectors';
import { Throttle } from './throttle';

export const BADGE_CLASS = 'kx-cell-badge';

function badgeText(entry: IJobEntry): string {
  const { info } = entry;
  return info.state === 'running' ? `▶ ${percent(info.done, info.total)}%` : info.state;
}

export class CellBadges {
  constructor(
    private readonly _model: JobsModel,
    private readonly _tracker: INotebookTracker,
    refreshMs: () => number
  ) {
    this._throttle = new Throttle(() => this._render(), refreshMs);
    _model.changed.connect(() => this._throttle.schedule(), this);
    // A notebook opened later, or cells re-rendered while scrolling: look again.
    _tracker.widgetAdded.connect(() => this._throttle.schedule(), this);
    _tracker.currentChanged.connect(() => this._throttle.schedule(), this);
  }

  dispose(): void {
    this._throttle.dispose();
  }

  private _render(): void {
    const byCell = runningByCell(this._model.entries());
    const shown = new Set<HTMLElement>();
    this._tracker.forEach(panel => {
      for (const cell of panel.content.widgets) {
        const entry = byCell.get(cell.model.id);
        if (!entry) {
          continue;
        }
        const prompt = cell.node.querySelector<HTMLElement>('.jp-InputPrompt') ?? cell.node;
        let badge = prompt.querySelector<HTMLElement>(`.${BADGE_CLASS}`);
        if (!badge) {
          badge = document.createElement('span');
          badge.className = BADGE_CLASS;
          prompt.appendChild(badge);
        }
        const text = badgeText(entry);
        if (badge.textContent !== text) {
          badge.textContent = text;
        }
        badge.dataset.jobId = entry.info.id;
        badge.dataset.state = entry.info.state;
        badge.title = `${entry.info.first_line}: ${entry.info.done}/${entry.info.total}`;
        shown.add(badge);
      }
    });
    this._badges.forEach(badge => {
      if (!shown.has(badge)) {
        badge.remove();
      }
    });
    this._badges = shown;
    if (byCell.size > 0) {
      // Prompts are re-rendered when cells run: keep putting the badge back while jobs run.
      setTimeout(() => this._throttle.schedule(), 1000);
    }
  }

  private _throttle: Throttle;
  private _badges = new Set<HTMLElement>();
}
