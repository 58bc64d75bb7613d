import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { AWSTOE_LINUX_LOG_DIRECTORY, defaultLogDirectory, ensureDefaultLogDirectory } from './default-log-directory.js';

test('root logs where Image Builder has AWSTOE log; others under their state directory, never the current one', () => {
  assert.equal(defaultLogDirectory({}, 0), AWSTOE_LINUX_LOG_DIRECTORY);
  assert.equal(AWSTOE_LINUX_LOG_DIRECTORY, '/var/lib/amazon/toe');
  assert.equal(defaultLogDirectory({ XDG_STATE_HOME: '/s', HOME: '/h' }, 1000), '/s/kiln/toe');
  assert.equal(defaultLogDirectory({ HOME: '/h' }, 1000), '/h/.local/state/kiln/toe');
  // A relative XDG_STATE_HOME is invalid by the spec and ignored.
  assert.equal(defaultLogDirectory({ XDG_STATE_HOME: 'rel', HOME: '/h' }, 1000), '/h/.local/state/kiln/toe');
});

test('the default log directory is created private whatever the umask, and an unsafe one is refused', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kiln-toe-logdir-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const uid = process.getuid!();
  const old = process.umask(0);
  try {
    const dir = join(root, 'state', 'kiln', 'toe');
    await ensureDefaultLogDirectory(dir, uid);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(root, 'state'))).mode & 0o777, 0o755);
    // Again: an existing private directory is fine.
    await ensureDefaultLogDirectory(dir, uid);
  } finally {
    process.umask(old);
  }
  const open = join(root, 'open');
  await mkdir(open);
  await chmod(open, 0o777);
  await assert.rejects(ensureDefaultLogDirectory(open, uid), /log directory .*open: is writable by others \(mode 777\)/);
  const link = join(root, 'link');
  await symlink(join(root, 'state'), link);
  await assert.rejects(ensureDefaultLogDirectory(link, uid), /is a symbolic link/);
  await assert.rejects(ensureDefaultLogDirectory(join(root, 'state'), uid + 1), /belongs to user/);
});
