/** "Go to cell": open (or reveal) the notebook, make the cell active, scroll to it, flash it. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';

/** How long the highlight class stays on the cell. */
const HIGHLIGHT_MS = 2000;
export const HIGHLIGHT_CLASS = 'kx-cell-highlight';

export interface IGoToCellDeps {
  app: JupyterFrontEnd;
  tracker: INotebookTracker | null;
  docManager: IDocumentManager | null;
}

function openPanel(deps: IGoToCellDeps, path: string): NotebookPanel | null {
  const open = deps.tracker?.find(panel => panel.context.path === path);
  if (open) {
    return open;
  }
  const widget = deps.docManager?.openOrReveal(path);
  return widget instanceof NotebookPanel ? widget : null;
}

/** Go to the cell with model id `cellId` of notebook `path`; false if it cannot be found. */
export async function goToCell(
  deps: IGoToCellDeps,
  path: string,
  cellId: string | null
): Promise<boolean> {
  if (!path) {
    return false;
  }
  const panel = openPanel(deps, path);
  if (!panel) {
    console.warn(`kernel-ext: cannot open ${path} as a notebook`);
    return false;
  }
  deps.app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.revealed;
  if (cellId === null) {
    return false;
  }
  const notebook = panel.content;
  const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
  if (index < 0) {
    console.warn(`kernel-ext: the cell that started this job is no longer in ${path}`);
    return false;
  }
  notebook.activeCellIndex = index;
  const cell = notebook.widgets[index];
  await notebook.scrollToCell(cell, 'center');
  cell.node.classList.add(HIGHLIGHT_CLASS);
  setTimeout(() => cell.node.classList.remove(HIGHLIGHT_CLASS), HIGHLIGHT_MS);
  return true;
}
