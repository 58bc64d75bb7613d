import { transferModule } from './file-helpers.js';

/** CopyFolder: copies folders recursively (modes and symlinks kept), merging into an existing destination. */
export const copyFolder = transferModule('CopyFolder', 'copy', 'folders');
