import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeContext, runAction, scratchDir } from '../../../test/helpers/action-context.js';
import { createFolder } from './create-folder.js';
import { createSymlink } from './create-symlink.js';
import { deleteFile } from './delete-file.js';
import { deleteFolder } from './delete-folder.js';
import { listFiles } from './list-files.js';
import { setFileOwner } from './set-file-owner.js';
import { setFilePermissions } from './set-file-permissions.js';
import { setFolderOwner } from './set-folder-owner.js';
import { setFolderPermissions } from './set-folder-permissions.js';

const exists = (p: string) => lstat(p).then(() => true, () => false);
const mode = async (p: string) => (await stat(p)).mode & 0o7777;

async function tree(dir: string, files: string[]): Promise<void> {
  for (const rel of files) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), rel);
  }
}

void test('CreateFolder creates parents, applies permissions to the folder, keeps an existing one', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  const p = join(dir, 'a/b/c');
  await runAction(createFolder, [{ path: `${p}/`, permissions: '0750' }, { path: join(dir, 'plain') }], ctx);
  assert.equal(await mode(p), 0o750);
  assert.equal(await mode(join(dir, 'plain')), 0o777 & ~process.umask());
  await writeFile(join(p, 'kept'), 'x');
  await runAction(createFolder, [{ path: p, permissions: 700 }], ctx);
  assert.equal(await mode(p), 0o700);
  assert.deepEqual(await readdir(p), ['kept']);
});

void test('CreateFolder overwrite false refuses an existing folder; a file in the way fails', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  await assert.rejects(runAction(createFolder, [{ path: dir, overwrite: false }], ctx), {
    message: `CreateFolder: ${dir}: folder exists and overwrite is false`,
  });
  await writeFile(join(dir, 'f'), '');
  await assert.rejects(runAction(createFolder, [{ path: join(dir, 'f') }], ctx), /exists and is not a folder/);
  await assert.rejects(runAction(createFolder, [{ path: join(dir, 'f/sub') }], ctx), /CreateFolder: .*\/f\/sub: /);
});

void test('CreateSymlink links to an existing target, creating parents', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'Sample.txt'), 's');
  const link = join(dir, 'Folder2/Symboliclink.txt');
  await runAction(createSymlink, [{ path: link, target: join(dir, 'Sample.txt') }], makeContext(dir));
  assert.equal(await readlink(link), join(dir, 'Sample.txt'));
  // Relative path: resolved in the work directory; relative target: stored as written, resolved from the link.
  await runAction(createSymlink, [{ path: 'rel', target: 'Sample.txt' }], makeContext(dir));
  assert.equal(await readlink(join(dir, 'rel')), 'Sample.txt');
});

void test('CreateSymlink: missing target, existing link without force, and a real file all fail', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  await tree(dir, ['one', 'two', 'file']);
  const link = join(dir, 'l');
  await assert.rejects(runAction(createSymlink, [{ path: link, target: join(dir, 'nope') }], ctx), {
    message: `CreateSymlink: ${link}: target ${join(dir, 'nope')} does not exist`,
  });
  await symlink(join(dir, 'one'), link);
  await assert.rejects(runAction(createSymlink, [{ path: link, target: join(dir, 'two') }], ctx), {
    message: `CreateSymlink: ${link}: link exists and force is false`,
  });
  await runAction(createSymlink, [{ path: link, target: join(dir, 'two'), force: true }], ctx);
  assert.equal(await readlink(link), join(dir, 'two'));
  await assert.rejects(
    runAction(createSymlink, [{ path: join(dir, 'file'), target: join(dir, 'two'), force: true }], ctx),
    /not a symbolic link/,
  );
});

void test('DeleteFile deletes a file, wildcard matches (not folders, links not followed); absent is fine', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, ['a.log', 'b.log', 'c.txt', 'x.log/inner', 'keep/target.log']);
  await symlink(join(dir, 'keep/target.log'), join(dir, 'link.log'));
  const ctx = makeContext(dir);
  await runAction(deleteFile, [{ path: join(dir, '*.log') }, { path: join(dir, 'c.txt') }], ctx);
  assert.deepEqual((await readdir(dir)).sort(), ['keep', 'x.log']);
  assert.ok(await exists(join(dir, 'keep/target.log')));
  await runAction(deleteFile, [{ path: join(dir, 'gone') }, { path: join(dir, 'nodir/*') }], ctx);
  await assert.rejects(runAction(deleteFile, [{ path: join(dir, 'keep') }], ctx), {
    message: `DeleteFile: ${join(dir, 'keep')}: is a folder; use DeleteFolder`,
  });
});

void test('DeleteFile with "*" deletes dot files too', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, ['d/.hidden', 'd/shown']);
  await runAction(deleteFile, [{ path: join(dir, 'd/*') }], makeContext(dir));
  assert.deepEqual(await readdir(join(dir, 'd')), []);
});

void test('DeleteFolder: empty folder deleted; non-empty needs force', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, ['full/a/b']);
  await mkdir(join(dir, 'empty'));
  const ctx = makeContext(dir);
  await runAction(deleteFolder, [{ path: `${join(dir, 'empty')}/` }], ctx);
  assert.equal(await exists(join(dir, 'empty')), false);
  await assert.rejects(runAction(deleteFolder, [{ path: join(dir, 'full') }], ctx), {
    message: `DeleteFolder: ${join(dir, 'full')}: folder is not empty and force is false`,
  });
  await runAction(deleteFolder, [{ path: join(dir, 'full'), force: true }, { path: join(dir, 'never') }], ctx);
  assert.equal(await exists(join(dir, 'full')), false);
  await writeFile(join(dir, 'f'), '');
  await assert.rejects(runAction(deleteFolder, [{ path: join(dir, 'f') }], ctx), /is not a folder/);
});

void test('ListFiles lists files only, sorted, with the pattern, recursively on request', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, ['b.log', 'a.log', 'c.txt', 'sub/d.log', 'sub/deeper/e.log']);
  const ctx = makeContext(dir);
  const top = await runAction(listFiles, [{ path: dir }], ctx);
  assert.equal(top.outputs.files, ['a.log', 'b.log', 'c.txt'].map((f) => join(dir, f)).join('\n'));
  const logs = await runAction(listFiles, [{ path: `${dir}/`, fileNamePattern: '*log', recursive: true }], ctx);
  assert.deepEqual(
    logs.outputs.files?.split('\n'),
    ['a.log', 'b.log', 'sub/d.log', 'sub/deeper/e.log'].map((f) => join(dir, f)),
  );
  await assert.rejects(runAction(listFiles, [{ path: join(dir, 'none') }], ctx), {
    message: `ListFiles: ${join(dir, 'none')}: folder does not exist`,
  });
  assert.equal((await runAction(listFiles, [{ path: join(dir, 'sub'), fileNamePattern: '*.txt' }], ctx)).outputs.files, '');
});

void test('SetFilePermissions sets the exact mode; a folder or a missing file fails', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, ['f']);
  const ctx = makeContext(dir);
  await runAction(setFilePermissions, [{ path: join(dir, 'f'), permissions: 766 }], ctx);
  assert.equal(await mode(join(dir, 'f')), 0o766);
  await runAction(setFilePermissions, [{ path: join(dir, 'f'), permissions: '04755' }], ctx);
  assert.equal(await mode(join(dir, 'f')), 0o4755);
  await assert.rejects(runAction(setFilePermissions, [{ path: dir, permissions: 700 }], ctx), /use SetFolderPermissions/);
  await assert.rejects(runAction(setFilePermissions, [{ path: join(dir, 'x'), permissions: 700 }], ctx), {
    message: `SetFilePermissions: ${join(dir, 'x')}: file does not exist`,
  });
});

void test('SetFolderPermissions is recursive by default, skips symlinks, and can stay on the folder', async (t) => {
  const dir = await scratchDir(t);
  const root = join(dir, 'root');
  await tree(root, ['a', 'sub/b']);
  await writeFile(join(dir, 'outside'), '');
  await chmod(join(dir, 'outside'), 0o600);
  await symlink(join(dir, 'outside'), join(root, 'link'));
  const ctx = makeContext(dir);
  await runAction(setFolderPermissions, [{ path: root, permissions: '0751' }], ctx);
  for (const p of ['', 'a', 'sub', 'sub/b']) assert.equal(await mode(join(root, p)), 0o751, p);
  assert.equal(await mode(join(dir, 'outside')), 0o600, 'the symlink target outside is untouched');
  await runAction(setFolderPermissions, [{ path: root, permissions: 700, recursive: false }], ctx);
  assert.equal(await mode(root), 0o700);
  assert.equal(await mode(join(root, 'a')), 0o751);
  await assert.rejects(runAction(setFolderPermissions, [{ path: join(root, 'a'), permissions: 700 }], ctx), /is not a folder/);
});

void test('SetFileOwner and SetFolderOwner chown inside the instance', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('chown needs root');
  const dir = await scratchDir(t);
  const root = join(dir, 'root');
  await tree(root, ['a', 'sub/b']);
  await tree(dir, ['single']);
  const ctx = makeContext(dir);
  await runAction(setFileOwner, [{ path: join(dir, 'single'), owner: 'nobody', group: 'nogroup' }], ctx);
  const single = await stat(join(dir, 'single'));
  assert.notEqual(single.uid, 0);
  assert.notEqual(single.gid, 0);

  // Without a group, the owner's login group (nobody's is nogroup on Debian, 65534 elsewhere too).
  await runAction(setFolderOwner, [{ path: root, owner: 'nobody', recursive: false }], ctx);
  assert.equal((await stat(root)).uid, single.uid);
  assert.equal((await stat(root)).gid, single.gid);
  assert.equal((await stat(join(root, 'a'))).uid, 0);

  await runAction(setFolderOwner, [{ path: root, owner: 'nobody', group: 'nogroup' }], ctx);
  for (const p of ['a', 'sub', 'sub/b']) assert.equal((await stat(join(root, p))).uid, single.uid, p);

  await assert.rejects(
    runAction(setFileOwner, [{ path: join(dir, 'single'), owner: 'no-such-user-kiln' }], ctx),
    new RegExp(`SetFileOwner: ${join(dir, 'single')}: chown "no-such-user-kiln:" failed: chown: invalid (user|spec)`),
  );
  await assert.rejects(runAction(setFolderOwner, [{ path: join(dir, 'missing'), owner: 'nobody' }], ctx), {
    message: `SetFolderOwner: ${join(dir, 'missing')}: folder does not exist`,
  });
  await assert.rejects(runAction(setFileOwner, [{ path: root, owner: 'nobody' }], ctx), /use SetFolderOwner/);
});
