import { attempt, bool, failure, itemsOf, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'DeleteFolder';

/** DeleteFolder: deletes a folder; a non-empty one only with force. */
export const deleteFolder: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    force: { type: 'boolean', default: false },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.lstat(path));
      // The docs list no "does not exist" error here (unlike its siblings): an absent folder is already deleted.
      if (!st) {
        context.log.info(`${NAME}: ${path}: folder does not exist; nothing to delete`);
        continue;
      }
      if (st.type !== 'directory') throw failure(NAME, path, 'is not a folder');
      if (!bool(item, 'force') && (await attempt(NAME, path, () => fs.readdir(path))).length > 0) {
        throw failure(NAME, path, 'folder is not empty and force is false');
      }
      await attempt(NAME, path, () => fs.rm(path, { recursive: true }));
      context.log.debug(`${NAME}: deleted ${path}`);
    }
    return { outputs: {} };
  },
};
