import { decodeText, encodingOf } from './encoding.js';
import { attempt, bool, encodingField, failure, itemsOf, resolvePath, str } from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'ReadFile';

/** ReadFile: decodes text files (following symlinks) into the `content` output, optionally printing them. */
export const readFile: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    encoding: encodingField,
    printFileContent: { type: 'boolean', default: false },
  },
  async run(inputs, context) {
    const fs = context.instance.fs;
    const contents: string[] = [];
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const st = await attempt(NAME, path, () => fs.stat(path));
      if (!st) throw failure(NAME, path, 'file does not exist');
      if (st.type === 'directory') throw failure(NAME, path, 'is a folder, not a file');
      const text = decodeText(await attempt(NAME, path, () => fs.readFile(path)), encodingOf(item.encoding));
      if (bool(item, 'printFileContent')) context.log.info(text);
      contents.push(text);
    }
    // The docs show one input per step; several are joined with newlines like WebDownload's destinations.
    return { outputs: { content: contents.join('\n') } };
  },
};
