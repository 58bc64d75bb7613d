import { transferModule } from './file-helpers.js';

/** MoveFolder: moves folders, merging into an existing destination. */
export const moveFolder = transferModule('MoveFolder', 'move', 'folders');
