import {
  attempt,
  bool,
  chown,
  failure,
  groupField,
  itemsOf,
  modeOf,
  optStr,
  ownerField,
  ownerSpec,
  permissionsField,
  refusePosixOnWindows,
  resolvePath,
  str,
} from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'CreateFolder';

/** CreateFolder: creates folders with their parents (mkdir -p), then sets owner and mode on the folder itself. */
export const createFolder: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    owner: ownerField(),
    group: groupField,
    // No default: a new folder gets 0777 filtered by the instance's umask, as the docs describe.
    permissions: permissionsField(),
    // The docs say an existing folder is "truncated or overwritten"; emptying it would destroy data a Linux
    // user expects mkdir -p to keep, so overwrite true keeps the folder and only re-applies owner and mode.
    overwrite: { type: 'boolean', default: true },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      refusePosixOnWindows(NAME, context, item, path);
      const existing = await attempt(NAME, path, () => fs.stat(path));
      if (existing && existing.type !== 'directory') throw failure(NAME, path, 'exists and is not a folder');
      if (existing && !bool(item, 'overwrite')) throw failure(NAME, path, 'folder exists and overwrite is false');
      const mode = modeOf(item);
      if (!existing) {
        const options = mode === undefined ? { recursive: true } : { recursive: true, mode };
        await attempt(NAME, path, () => fs.mkdir(path, options));
      } else if (mode !== undefined) {
        await attempt(NAME, path, () => fs.chmod(path, mode));
      }
      const spec = ownerSpec(optStr(item, 'owner'), optStr(item, 'group'));
      if (spec !== undefined) await chown(NAME, context, path, spec);
    }
    return { outputs: {} };
  },
};
