import assert from 'node:assert/strict';
import { chmod, chown, readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';

const kiln = resolve('bin/kiln');
const NOBODY = 65534;
const DOC = 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: Say\n        action: ExecuteBash\n        inputs:\n          commands: ["echo hi"]\n';

// As root the default is /var/lib/amazon/toe, which a test must not write into; a user's default is testable.
test('kiln toe run without --log-directory: a private folder of the user, nothing in the current directory', { skip: process.getuid?.() !== 0 && 'needs root to run as another user' }, async (t) => {
  const dir = await scratchDir(t);
  await chmod(dir, 0o755);
  const home = join(dir, 'home');
  const work = join(dir, 'work');
  for (const d of [home, work]) {
    await execLocal(['mkdir', d], { timeoutMs: 5_000 });
    await chown(d, NOBODY, NOBODY);
  }
  await writeFile(join(work, 'doc.yaml'), DOC);
  const r = await execLocal(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', `HOME=${home}`, 'XDG_STATE_HOME=', 'node', kiln, 'toe', 'run', '-d', 'doc.yaml', '-i', 'default-dir'], { cwd: work, timeoutMs: 60_000 });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.deepEqual(await readdir(work), ['doc.yaml']);
  const logs = join(home, '.local', 'state', 'kiln', 'toe');
  assert.equal((await stat(logs)).mode & 0o777, 0o700);
  const [folder] = await readdir(logs);
  assert.match(folder!, /^TOE_.*_default-dir$/);
  assert.equal((JSON.parse(r.stdout) as { logUrl: string }).logUrl.startsWith(logs), true);
});
