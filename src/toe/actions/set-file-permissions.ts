import { attempt, failure, itemsOf, modeOf, permissionsField, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'SetFilePermissions';

/** SetFilePermissions: chmods a file (a symlink's target) to an octal mode. */
export const setFilePermissions: ActionModule = {
  name: NAME,
  platforms: ['linux', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    permissions: permissionsField(true),
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const mode = modeOf(item);
      if (mode === undefined) throw failure(NAME, path, 'permissions are required');
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'file does not exist');
      if (st.type === 'directory') throw failure(NAME, path, 'is a folder; use SetFolderPermissions');
      await attempt(NAME, path, () => fs.chmod(path, mode));
    }
    return { outputs: {} };
  },
};
