import { detectBom, encodeText, encodingOf } from './encoding.js';
import { attempt, encodingField, failure, itemsOf, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'AppendFile';

/** AppendFile: appends encoded content to a file that must already exist. */
export const appendFile: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    content: { type: 'string', default: '' },
    encoding: encodingField,
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'file does not exist');
      if (st.type === 'directory') throw failure(NAME, path, 'is a folder, not a file');
      let enc = encodingOf(item.encoding);
      let bom = false;
      if (enc.withBom) {
        if (st.size === 0) {
          bom = true;
        } else {
          // utf-16/utf-32 without an endianness: continue in the byte order the file already announces.
          const found = detectBom(await attempt(NAME, path, () => fs.readFile(path)));
          if (found && found.encoding.unit === enc.unit) enc = { ...enc, endian: found.encoding.endian };
        }
      }
      const data = encodeText(str(item, 'content'), enc, { bom });
      await attempt(NAME, path, () => fs.appendFile(path, data));
      context.log.debug(`${NAME}: appended ${data.length} bytes to ${path}`);
    }
    return { outputs: {} };
  },
};
