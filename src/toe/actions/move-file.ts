import { transferFiles, wildcardOnlyInName } from './file-helpers.js';
import type { ActionModule } from './types.js';

/** MoveFile: moves files, with a wildcard allowed in the source file name. */
export const moveFile: ActionModule = {
  name: 'MoveFile',
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    source: { type: 'string', required: true },
    destination: { type: 'string', required: true },
    overwrite: { type: 'boolean', default: true },
  },
  validate: wildcardOnlyInName('source'),
  run: (inputs, context) => transferFiles('move', 'MoveFile', inputs, context),
};
