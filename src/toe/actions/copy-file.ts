import { transferModule } from './file-helpers.js';

/** CopyFile: copies files, with a wildcard allowed in the source file name. */
export const copyFile = transferModule('CopyFile', 'copy', 'files');
