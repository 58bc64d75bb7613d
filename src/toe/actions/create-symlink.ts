import { posix } from 'node:path';
import { attempt, bool, failure, itemsOf, mkdirParent, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'CreateSymlink';

/** CreateSymlink: creates a symbolic link to an existing target; force replaces an existing link, never a file. */
export const createSymlink: ActionModule = {
  name: NAME,
  platforms: ['linux', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    target: { type: 'string', required: true },
    force: { type: 'boolean', default: false },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const target = str(item, 'target');
      if (target === '') throw failure(NAME, path, 'target is empty');
      // The link stores the target as written; a relative one resolves from the link's folder, as ln -s does.
      const resolved = posix.resolve(posix.dirname(path), target);
      if (!(await attempt(NAME, resolved, () => fs.stat(resolved)))) {
        throw failure(NAME, path, `target ${target} does not exist`);
      }
      const existing = await attempt(NAME, path, () => fs.lstat(path));
      if (existing) {
        if (existing.type !== 'symlink') {
          throw failure(NAME, path, 'a file or folder that is not a symbolic link exists');
        }
        if (!bool(item, 'force')) throw failure(NAME, path, 'link exists and force is false');
        await attempt(NAME, path, () => fs.rm(path));
      } else {
        await mkdirParent(NAME, fs, path);
      }
      await attempt(NAME, path, () => fs.symlink(target, path));
      context.log.debug(`${NAME}: ${path} -> ${target}`);
    }
    return { outputs: {} };
  },
};
