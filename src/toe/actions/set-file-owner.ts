import { attempt, chown, failure, groupField, itemsOf, optStr, ownerField, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'SetFileOwner';

/** SetFileOwner: chowns a file (a symlink's target); without a group, the owner's login group. */
export const setFileOwner: ActionModule = {
  name: NAME,
  platforms: ['linux', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    owner: ownerField(true),
    group: groupField,
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'file does not exist');
      if (st.type === 'directory') throw failure(NAME, path, 'is a folder; use SetFolderOwner');
      // "owner:" makes chown use the owner's login group, which is what the docs promise without a group.
      await chown(NAME, context, path, `${str(item, 'owner')}:${optStr(item, 'group') ?? ''}`);
    }
    return { outputs: {} };
  },
};
