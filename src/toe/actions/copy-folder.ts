import { transferFolders, wildcardOnlyInName } from './file-helpers.js';
import type { ActionModule } from './types.js';

/** CopyFolder: copies folders recursively (modes and symlinks kept), merging into an existing destination. */
export const copyFolder: ActionModule = {
  name: 'CopyFolder',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    source: { type: 'string', required: true },
    destination: { type: 'string', required: true },
    overwrite: { type: 'boolean', default: true },
  },
  validate: wildcardOnlyInName('source'),
  run: (inputs, context) => transferFolders('copy', 'CopyFolder', inputs, context),
};
