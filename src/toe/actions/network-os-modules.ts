import { s3Download } from './s3-download.js';
import { s3Upload } from './s3-upload.js';
import type { ActionModule } from './types.js';
import { updateOs } from './update-os.js';
import { webDownload } from './web-download.js';
import { executePowerShell, installMsi, setRegistry, uninstallMsi } from './windows-only.js';

/** The network, OS-update and Windows-only action modules, for the runner's module registry. */
export const networkOsModules: ActionModule[] = [
  webDownload,
  s3Download,
  s3Upload,
  updateOs,
  executePowerShell,
  installMsi,
  uninstallMsi,
  setRegistry,
];
