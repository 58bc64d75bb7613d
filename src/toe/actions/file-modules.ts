import { appendFile } from './append-file.js';
import { copyFile } from './copy-file.js';
import { copyFolder } from './copy-folder.js';
import { createFile } from './create-file.js';
import { createFolder } from './create-folder.js';
import { createSymlink } from './create-symlink.js';
import { deleteFile } from './delete-file.js';
import { deleteFolder } from './delete-folder.js';
import { listFiles } from './list-files.js';
import { moveFile } from './move-file.js';
import { moveFolder } from './move-folder.js';
import { readFile } from './read-file.js';
import { setFileEncoding } from './set-file-encoding.js';
import { setFileOwner } from './set-file-owner.js';
import { setFilePermissions } from './set-file-permissions.js';
import { setFolderOwner } from './set-folder-owner.js';
import { setFolderPermissions } from './set-folder-permissions.js';
import type { ActionModule } from './types.js';

/** The AWSTOE file-system action modules. */
export const fileModules: ActionModule[] = [
  appendFile,
  copyFile,
  copyFolder,
  createFile,
  createFolder,
  createSymlink,
  deleteFile,
  deleteFolder,
  listFiles,
  moveFile,
  moveFolder,
  readFile,
  setFileEncoding,
  setFileOwner,
  setFolderOwner,
  setFilePermissions,
  setFolderPermissions,
];
