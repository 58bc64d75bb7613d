import { posix } from 'node:path';
import { attempt, bool, failure, itemsOf, resolvePath, str, wildcardRegExp } from './file-helpers.js';
import type { InstanceFs } from '../instance/instance.js';
import type { ActionModule } from './types.js';

const NAME = 'ListFiles';

/** Files (not folders) below dir whose names match; symlinks are listed when they point to files, never followed. */
async function collectFiles(fs: InstanceFs, dir: string, re: RegExp, recursive: boolean, out: string[]): Promise<void> {
  for (const name of (await attempt(NAME, dir, () => fs.readdir(dir))).sort()) {
    const full = posix.join(dir, name);
    const st = await attempt(NAME, full, () => fs.lstat(full));
    if (!st) continue;
    if (st.type === 'directory') {
      if (recursive) await collectFiles(fs, full, re, recursive, out);
      continue;
    }
    if (st.type === 'symlink' && (await fs.stat(full))?.type === 'directory') continue;
    if (re.test(name)) out.push(full);
  }
}

/** ListFiles: lists the files of a folder (optionally recursively) matching a name pattern, as `files`. */
export const listFiles: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    fileNamePattern: { type: 'string', default: '*' },
    recursive: { type: 'boolean', default: false },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    const files: string[] = [];
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'folder does not exist');
      if (st.type !== 'directory') throw failure(NAME, path, 'is not a folder');
      await collectFiles(fs, path, wildcardRegExp(str(item, 'fileNamePattern') || '*'), bool(item, 'recursive'), files);
    }
    return { outputs: { files: files.join('\n') } };
  },
};
