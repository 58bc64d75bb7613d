import assert from 'node:assert/strict';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeContext, runAction, scratchDir } from '../../../test/helpers/action-context.js';
import { appendFile } from './append-file.js';
import { createFile } from './create-file.js';
import { readFile as readFileModule } from './read-file.js';
import { setFileEncoding } from './set-file-encoding.js';

const hex = async (p: string) => (await readFile(p)).toString('hex');
const mode = async (p: string) => (await stat(p)).mode & 0o7777;

void test('CreateFile writes content, creates parent folders and applies permissions exactly', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  const a = join(dir, 'deep/er/a.txt');
  const b = join(dir, 'b.sh');
  const result = await runAction(
    createFile,
    [
      { path: a, content: 'hello\n' },
      { path: b, content: '#!/bin/sh\n', permissions: 755 },
    ],
    ctx,
  );
  assert.deepEqual(result.outputs, {});
  assert.equal(await readFile(a, 'utf8'), 'hello\n');
  assert.equal(await mode(b), 0o755);
  const umask = process.umask();
  assert.equal(await mode(a), 0o666 & ~umask, 'no permissions: 0666 filtered by the umask');
});

void test('CreateFile without content creates an empty file; relative paths resolve in the work directory', async (t) => {
  const dir = await scratchDir(t);
  await runAction(createFile, [{ path: 'skip-cleanup' }, { path: './sub/x' }], makeContext(dir));
  assert.equal((await readFile(join(dir, 'skip-cleanup'))).length, 0);
  assert.equal((await readFile(join(dir, 'sub/x'))).length, 0);
});

void test('CreateFile overwrites by default and refuses with overwrite false, naming the path', async (t) => {
  const dir = await scratchDir(t);
  const p = join(dir, 'f');
  await writeFile(p, 'old content that is long');
  await runAction(createFile, [{ path: p, content: 'new' }], makeContext(dir));
  assert.equal(await readFile(p, 'utf8'), 'new');
  await assert.rejects(runAction(createFile, [{ path: p, content: 'x', overwrite: false }], makeContext(dir)), {
    name: 'ActionFailure',
    message: `CreateFile: ${p}: file exists and overwrite is false`,
  });
  assert.equal(await readFile(p, 'utf8'), 'new');
  await runAction(createFile, [{ path: join(dir, 'g'), content: 'x', overwrite: false }], makeContext(dir));
});

void test('CreateFile refuses a path that is a folder', async (t) => {
  const dir = await scratchDir(t);
  await assert.rejects(runAction(createFile, [{ path: dir }], makeContext(dir)), /CreateFile: .*: a folder exists/);
});

void test('CreateFile writes the requested encoding', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  await runAction(
    createFile,
    [
      { path: join(dir, '16'), content: 'Hi', encoding: 'UTF-16' },
      { path: join(dir, '16be'), content: 'Hi', encoding: 'utf-16-be' },
      { path: join(dir, '32'), content: 'Hi', encoding: 'utf32' },
      { path: join(dir, '8'), content: 'é', encoding: 'UTF-8' },
    ],
    ctx,
  );
  assert.equal(await hex(join(dir, '16')), 'fffe48006900');
  assert.equal(await hex(join(dir, '16be')), '00480069');
  assert.equal(await hex(join(dir, '32')), 'fffe00004800000069000000');
  assert.equal(await hex(join(dir, '8')), 'c3a9');
});

void test('CreateFile sets owner and group inside the instance', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('chown needs root');
  const dir = await scratchDir(t);
  const p = join(dir, 'owned');
  await runAction(createFile, [{ path: p, owner: 'nobody', group: 'nogroup' }], makeContext(dir));
  const st = await stat(p);
  assert.notEqual(st.uid, 0);
  assert.notEqual(st.gid, 0);
  await assert.rejects(
    runAction(createFile, [{ path: p, owner: 'no-such-user-kiln' }], makeContext(dir)),
    new RegExp(`CreateFile: ${p}: chown "no-such-user-kiln" failed: .*invalid user`),
  );
});

void test('AppendFile appends, in the file encoding, and fails for a missing file', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  const p = join(dir, 'log.txt');
  await writeFile(p, 'one\n');
  await runAction(appendFile, [{ path: p, content: 'two\n' }, { path: p }], ctx);
  assert.equal(await readFile(p, 'utf8'), 'one\ntwo\n');

  const u = join(dir, 'u16');
  await runAction(createFile, [{ path: u, content: 'A', encoding: 'utf-16' }], ctx);
  await runAction(appendFile, [{ path: u, content: 'B', encoding: 'utf-16' }], ctx);
  assert.equal(await hex(u), 'fffe41004200', 'no second BOM');

  const be = join(dir, 'be');
  await writeFile(be, Buffer.from('feff0041', 'hex'));
  await runAction(appendFile, [{ path: be, content: 'B', encoding: 'utf-16' }], ctx);
  assert.equal(await hex(be), 'feff00410042', 'keeps the byte order the BOM announces');

  const empty = join(dir, 'empty');
  await writeFile(empty, '');
  await runAction(appendFile, [{ path: empty, content: 'A', encoding: 'UTF-32' }], ctx);
  assert.equal(await hex(empty), 'fffe000041000000', 'an empty file gets the BOM');

  const missing = join(dir, 'missing.txt');
  await assert.rejects(runAction(appendFile, [{ path: missing, content: 'x' }], ctx), {
    message: `AppendFile: ${missing}: file does not exist`,
  });
});

void test('ReadFile returns content (decoded, through symlinks) and prints only when asked', async (t) => {
  const dir = await scratchDir(t);
  const p = join(dir, 'r.txt');
  await writeFile(p, 'line 1\nline 2');
  await symlink(p, join(dir, 'link'));
  await writeFile(join(dir, 'w'), Buffer.from('fffe68006900', 'hex'));

  const quiet = makeContext(dir);
  assert.deepEqual((await runAction(readFileModule, [{ path: join(dir, 'link') }], quiet)).outputs, {
    content: 'line 1\nline 2',
  });
  assert.deepEqual(quiet.output, []);

  const loud = makeContext(dir);
  const res = await runAction(readFileModule, [{ path: join(dir, 'w'), encoding: 'utf-16', printFileContent: true }], loud);
  assert.equal(res.outputs.content, 'hi');
  assert.deepEqual(loud.output, ['hi']);

  await assert.rejects(runAction(readFileModule, [{ path: join(dir, 'nope') }], quiet), {
    message: `ReadFile: ${join(dir, 'nope')}: file does not exist`,
  });
});

void test('SetFileEncoding converts utf-8 (or BOM-marked) text and keeps the mode', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  const p = join(dir, 'conv');
  await writeFile(p, 'é', { mode: 0o640 });
  await runAction(setFileEncoding, [{ path: p, encoding: 'UTF-16' }], ctx);
  assert.equal(await hex(p), 'fffee900');
  await runAction(setFileEncoding, [{ path: p, encoding: 'utf-32-be' }], ctx);
  assert.equal(await hex(p), '000000e9');
  assert.equal(await mode(p), 0o640);

  const q = join(dir, 'back');
  await writeFile(q, Buffer.from('feff00e9', 'hex'));
  await runAction(setFileEncoding, [{ path: q }], ctx);
  assert.equal(await hex(q), 'c3a9', 'default utf8, BOM dropped');

  await mkdir(join(dir, 'd'));
  await assert.rejects(runAction(setFileEncoding, [{ path: join(dir, 'd'), encoding: 'utf8' }], ctx), /is a folder/);
  await assert.rejects(runAction(setFileEncoding, [{ path: join(dir, 'x'), encoding: 'utf8' }], ctx), {
    message: `SetFileEncoding: ${join(dir, 'x')}: file does not exist`,
  });
});
