import { encodeText, encodingOf } from './encoding.js';
import {
  attempt,
  bool,
  chown,
  encodingField,
  failure,
  groupField,
  itemsOf,
  mkdirParent,
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

const NAME = 'CreateFile';

/** CreateFile: writes files (creating parent folders), optionally refusing to replace one, then sets owner and mode. */
export const createFile: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    content: { type: 'string', default: '' },
    encoding: encodingField,
    owner: ownerField(),
    group: groupField,
    // No default: a new file gets 0666 filtered by the instance's umask, as the docs describe.
    permissions: permissionsField(),
    overwrite: { type: 'boolean', default: true },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      refusePosixOnWindows(NAME, context, item, path);
      const existing = await attempt(NAME, path, () => fs.stat(path));
      if (existing?.type === 'directory') throw failure(NAME, path, 'a folder exists at this path');
      if (existing && !bool(item, 'overwrite')) throw failure(NAME, path, 'file exists and overwrite is false');
      await mkdirParent(NAME, fs, path);
      const data = encodeText(str(item, 'content'), encodingOf(item.encoding));
      const mode = modeOf(item);
      await attempt(NAME, path, () => fs.writeFile(path, data, mode === undefined ? undefined : { mode }));
      const spec = ownerSpec(optStr(item, 'owner'), optStr(item, 'group'));
      if (spec !== undefined) await chown(NAME, context, path, spec);
      context.log.debug(`${NAME}: wrote ${data.length} bytes to ${path}`);
    }
    return { outputs: {} };
  },
};
