import { attempt, bool, failure, itemsOf, modeOf, permissionsField, resolvePath, str, walk } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'SetFolderPermissions';

/** SetFolderPermissions: chmods a folder and, by default, every file and folder in it to one octal mode. */
export const setFolderPermissions: ActionModule = {
  name: NAME,
  platforms: ['linux', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    permissions: permissionsField(true),
    recursive: { type: 'boolean', default: true },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const mode = modeOf(item);
      if (mode === undefined) throw failure(NAME, path, 'permissions are required');
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'folder does not exist');
      if (st.type !== 'directory') throw failure(NAME, path, 'is not a folder; use SetFilePermissions');
      // Walk first, then chmod deepest first: a folder set to e.g. 0600 early would hide its contents from the walk.
      const children: string[] = [];
      if (bool(item, 'recursive')) {
        for await (const entry of walk(fs, path)) {
          // chmod on a symlink would change its target, which may lie outside the folder (chmod -R skips them).
          if (entry.stat.type !== 'symlink') children.push(entry.path);
        }
      }
      for (const child of children.reverse()) await attempt(NAME, child, () => fs.chmod(child, mode));
      await attempt(NAME, path, () => fs.chmod(path, mode));
    }
    return { outputs: {} };
  },
};
