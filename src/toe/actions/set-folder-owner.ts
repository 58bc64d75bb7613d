import {
  attempt,
  bool,
  chown,
  failure,
  groupField,
  itemsOf,
  optStr,
  ownerField,
  resolvePath,
  str,
} from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'SetFolderOwner';

/** SetFolderOwner: chowns a folder and, by default, everything in it (chown -R, symlinks not followed). */
export const setFolderOwner: ActionModule = {
  name: NAME,
  platforms: ['linux', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    owner: ownerField(true),
    group: groupField,
    recursive: { type: 'boolean', default: true },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'folder does not exist');
      if (st.type !== 'directory') throw failure(NAME, path, 'is not a folder; use SetFileOwner');
      // "owner:" makes chown use the owner's login group, which is what the docs promise without a group.
      const spec = `${str(item, 'owner')}:${optStr(item, 'group') ?? ''}`;
      await chown(NAME, context, path, spec, bool(item, 'recursive'));
    }
    return { outputs: {} };
  },
};
