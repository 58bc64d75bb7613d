import { posix } from 'node:path';
import {
  attempt,
  failure,
  itemsOf,
  resolvePath,
  splitWildcard,
  str,
  wildcardOnlyInName,
  wildcardRegExp,
} from './file-helpers.js';
import type { ActionModule } from './types.js';

const NAME = 'DeleteFile';

/** DeleteFile: deletes files (symlinks themselves, not their targets), with a wildcard allowed in the file name. */
export const deleteFile: ActionModule = {
  name: NAME,
  platforms: ['linux', 'windows', 'macos'],
  inputShape: 'list',
  fields: {
    path: { type: 'string', required: true },
    // Not in the AWSTOE docs, but real documents pass it (ib-samples inspec test); accepted and without effect.
    force: { type: 'boolean', default: false },
  },
  validate: wildcardOnlyInName('path'),
  async run(inputs, context) {
    const fs = context.instance.fs;
    for (const item of itemsOf(inputs)) {
      const path = resolvePath(context, str(item, 'path'));
      const wildcard = splitWildcard(NAME, path);
      let targets: string[];
      if (wildcard) {
        const dir = await attempt(NAME, wildcard.dir, () => fs.stat(wildcard.dir));
        // The docs list no "does not exist" error for DeleteFile (unlike its siblings): nothing to delete is success.
        if (!dir) targets = [];
        else if (dir.type !== 'directory') throw failure(NAME, path, `${wildcard.dir} is not a folder`);
        else {
          const re = wildcardRegExp(wildcard.pattern);
          targets = [];
          for (const name of (await attempt(NAME, wildcard.dir, () => fs.readdir(wildcard.dir))).sort()) {
            const full = posix.join(wildcard.dir, name);
            if (re.test(name) && (await fs.lstat(full))?.type !== 'directory') targets.push(full);
          }
        }
      } else {
        const st = await attempt(NAME, path, () => fs.lstat(path));
        if (st?.type === 'directory') throw failure(NAME, path, 'is a folder; use DeleteFolder');
        targets = st ? [path] : [];
      }
      if (targets.length === 0) context.log.info(`${NAME}: ${path}: nothing to delete`);
      for (const target of targets) {
        await attempt(NAME, target, () => fs.rm(target));
        context.log.debug(`${NAME}: deleted ${target}`);
      }
    }
    return { outputs: {} };
  },
};
