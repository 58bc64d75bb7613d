import { decodeText, detectBom, encodeText, encodingOf } from './encoding.js';
import { attempt, encodingField, failure, itemsOf, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'SetFileEncoding';

/** SetFileEncoding: re-encodes a file's text (utf-8 unless a BOM says otherwise) in the given encoding. */
export const setFileEncoding: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    // The docs list encoding as optional with default utf8 (converting to utf-8).
    encoding: encodingField,
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'file does not exist');
      if (st.type === 'directory') throw failure(NAME, path, 'is a folder, not a file');
      const data = await attempt(NAME, path, () => fs.readFile(path));
      const text = decodeText(data, detectBom(data)?.encoding ?? encodingOf('utf8'));
      const target = encodingOf(item.encoding);
      // writeFile on an existing file keeps its mode and owner.
      await attempt(NAME, path, () => fs.writeFile(path, encodeText(text, target)));
      context.log.debug(`${NAME}: ${path} is now ${target.name}`);
    }
    return { outputs: {} };
  },
};
