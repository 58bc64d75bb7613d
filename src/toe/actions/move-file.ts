import { transferModule } from './file-helpers.js';

/** MoveFile: moves files, with a wildcard allowed in the source file name. */
export const moveFile = transferModule('MoveFile', 'move', 'files');
