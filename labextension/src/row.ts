/** One job's row in the jobs panel: built once, updated in place (buttons stay put). */
import { baseName, formatDuration, jobLabel, percent, progressText } from './format';
import { IJobEntry, isFinal } from './model';
import { liveElapsed, liveTimeLeft } from './selectors';

export interface IRowActions {
  cancel(entry: IJobEntry): void;
  goTo(entry: IJobEntry): void;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  parent?: HTMLElement
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  parent?.appendChild(node);
  return node;
}

function setText(node: HTMLElement, text: string): void {
  if (node.textContent !== text) {
    node.textContent = text;
  }
}

export class JobRow {
  readonly node = element('li', 'kx-job-row');

  constructor(
    private _entry: IJobEntry,
    actions: IRowActions
  ) {
    const head = element('div', 'kx-job-head', this.node);
    this._label = element('span', 'kx-job-label', head);
    this._state = element('span', 'kx-job-state', head);
    this._notebook = element('span', 'kx-job-notebook', head);
    this._line = element('div', 'kx-job-line', this.node);
    const bar = element('div', 'kx-job-bar', this.node);
    this._fill = element('div', 'kx-job-bar-fill', bar);
    const figures = element('div', 'kx-job-figures', this.node);
    this._progress = element('span', 'kx-job-progress', figures);
    this._times = element('span', 'kx-job-times', figures);
    this._workers = element('span', 'kx-job-workers', figures);
    this._error = element('div', 'kx-job-error', this.node);
    const buttons = element('div', 'kx-job-buttons', this.node);
    this._cancel = element('button', 'jp-Button jp-mod-styled jp-mod-warn kx-job-cancel', buttons);
    this._cancel.textContent = 'Cancel';
    this._cancel.addEventListener('click', () => actions.cancel(this._entry));
    this._goto = element('button', 'jp-Button jp-mod-styled jp-mod-reject kx-job-goto', buttons);
    this._goto.textContent = 'Go to cell';
    this._goto.addEventListener('click', () => actions.goTo(this._entry));
  }

  update(entry: IJobEntry, now: number): void {
    this._entry = entry;
    const { info } = entry;
    const final = isFinal(info.state);
    this.node.dataset.jobId = info.id;
    this.node.dataset.kernelId = entry.kernelId;
    this.node.dataset.state = info.state;
    setText(this._label, jobLabel(info));
    setText(this._state, info.state);
    setText(this._notebook, entry.path ? baseName(entry.path) : '');
    this._notebook.title = entry.path;
    setText(this._line, info.first_line);
    this._line.title = info.first_line;
    const pct = info.state === 'finished' ? 100 : percent(info.done, info.total);
    this._fill.style.width = `${pct}%`;
    setText(this._progress, progressText(info));
    const left = liveTimeLeft(entry, now);
    const times = formatDuration(liveElapsed(entry, now)) + (left === null ? '' : ` · ${formatDuration(left)} left`);
    setText(this._times, times);
    setText(this._workers, `${info.workers} × ${info.backend}`);
    setText(this._error, info.error ?? '');
    this._error.hidden = !info.error;
    this._cancel.hidden = final;
    this._goto.disabled = !entry.path;
  }

  private _label: HTMLSpanElement;
  private _state: HTMLSpanElement;
  private _notebook: HTMLSpanElement;
  private _line: HTMLDivElement;
  private _fill: HTMLDivElement;
  private _progress: HTMLSpanElement;
  private _times: HTMLSpanElement;
  private _workers: HTMLSpanElement;
  private _error: HTMLDivElement;
  private _cancel: HTMLButtonElement;
  private _goto: HTMLButtonElement;
}
