/**
 * kernel-ext: JupyterLab's view of kernel_ext jobs in every kernel of the page:
 * a jobs panel, a status bar item, notifications and cell badges.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';

import { version } from '../../package.json';
import { CellBadges } from './badges';
import { goToCell, IGoToCellDeps } from './goto';
import { IJobEntry, JobsModel } from './model';
import { JobNotifier } from './notify';
import { JobsPanel, PANEL_ID } from './panel';
import { JobsService } from './service';
import { readSettings, Settings } from './settings';
import { JobsStatus } from './statusbar';

const PLUGIN_ID = 'kernel-ext:plugin';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description: 'Jobs panel, status bar item, notifications and cell badges for kernel_ext.',
  autoStart: true,
  optional: [ISettingRegistry, IStatusBar, INotebookTracker, IDocumentManager],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    statusBar: IStatusBar | null,
    tracker: INotebookTracker | null,
    docManager: IDocumentManager | null
  ): void => {
    const settings = new Settings();
    const model = new JobsModel();
    const service = new JobsService(app.serviceManager, model, settings, `kernel-ext ${version}`);
    const deps: IGoToCellDeps = { app, tracker, docManager };
    const goTo = (entry: IJobEntry): void => {
      goToCell(deps, entry.path, entry.info.cell_id).catch(reason =>
        console.warn('kernel-ext: could not go to the cell', reason)
      );
    };
    const refreshMs = (): number => settings.refreshMs;

    const panel = new JobsPanel(
      model,
      {
        cancel: entry =>
          void service.cancel(entry.kernelId, entry.info.id).catch(reason => console.warn(String(reason))),
        goTo,
        clearFinished: () => void service.clearFinished()
      },
      refreshMs
    );
    app.shell.add(panel, 'right', { rank: 900 });

    if (statusBar) {
      const item = new JobsStatus(model, () => app.shell.activateById(PANEL_ID), refreshMs);
      statusBar.registerStatusItem('kernel-ext:status', {
        item,
        align: 'left',
        rank: 4,
        isActive: () => item.active,
        activeStateChanged: item.activeChanged
      });
    }
    if (tracker) {
      new CellBadges(model, tracker, refreshMs);
    }
    new JobNotifier(model, settings, goTo);

    if (registry) {
      registry
        .load(PLUGIN_ID)
        .then(loaded => {
          const apply = (): void => settings.update(readSettings(loaded.composite));
          loaded.changed.connect(apply);
          apply();
        })
        .catch(reason => console.warn('kernel-ext: could not load the settings', reason));
    }
    console.debug(`kernel-ext ${version} activated`);
  }
};

export default plugin;
