import { transferFolders, wildcardOnlyInName } from './file-helpers.js';
import type { ActionModule } from './types.js';

/** MoveFolder: moves folders, merging into an existing destination. */
export const moveFolder: ActionModule = {
  name: 'MoveFolder',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    source: { type: 'string', required: true },
    destination: { type: 'string', required: true },
    overwrite: { type: 'boolean', default: true },
  },
  validate: wildcardOnlyInName('source'),
  run: (inputs, context) => transferFolders('move', 'MoveFolder', inputs, context),
};
