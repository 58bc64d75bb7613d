import assert from 'node:assert/strict';
import { lstat, mkdir, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeContext, runAction, scratchDir } from '../../../test/helpers/action-context.js';
import { copyFile } from './copy-file.js';
import { copyFolder } from './copy-folder.js';
import { moveFile } from './move-file.js';
import { moveFolder } from './move-folder.js';

const exists = (p: string) => lstat(p).then(() => true, () => false);
const text = (p: string) => readFile(p, 'utf8');

async function tree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(join(dir, rel, '..'), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
}

void test('CopyFile copies to a file path, creating folders, and keeps the mode', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'a.sh'), 'A', { mode: 0o750 });
  await runAction(copyFile, [{ source: join(dir, 'a.sh'), destination: join(dir, 'new/sub/b.sh') }], makeContext(dir));
  assert.equal(await text(join(dir, 'new/sub/b.sh')), 'A');
  assert.equal((await stat(join(dir, 'new/sub/b.sh'))).mode & 0o777, 0o750);
  assert.equal(await text(join(dir, 'a.sh')), 'A');
});

void test('CopyFile into a folder: trailing "/" or an existing folder keeps the source name', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/a.txt': 'A', 'existing/.keep': '' });
  const ctx = makeContext(dir);
  await runAction(copyFile, [{ source: join(dir, 'src/a.txt'), destination: `${join(dir, 'made')}/` }], ctx);
  await runAction(copyFile, [{ source: join(dir, 'src/a.txt'), destination: join(dir, 'existing') }], ctx);
  assert.equal(await text(join(dir, 'made/a.txt')), 'A');
  assert.equal(await text(join(dir, 'existing/a.txt')), 'A');
});

void test('CopyFile with a wildcard copies only the matching files, not folders', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/Sample1.txt': '1', 'src/Sample2.log': '2', 'src/Other.txt': 'o', 'src/SampleDir/x': 'x' });
  await runAction(copyFile, [{ source: join(dir, 'src/Sample*'), destination: `${join(dir, 'out')}/` }], makeContext(dir));
  assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['Sample1.txt', 'Sample2.log']);
});

void test('CopyFile wildcard errors: no match, several matches into a file path, wildcard in a folder', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/a1': '1', 'src/a2': '2' });
  const ctx = makeContext(dir);
  await assert.rejects(runAction(copyFile, [{ source: join(dir, 'src/zz*'), destination: `${dir}/o/` }], ctx), {
    message: `CopyFile: ${join(dir, 'src/zz*')}: no files match`,
  });
  await assert.rejects(
    runAction(copyFile, [{ source: join(dir, 'src/a*'), destination: join(dir, 'one') }], ctx),
    /CopyFile: .*\/one: 2 files match .*end the destination with "\/"/,
  );
  await assert.rejects(
    runAction(copyFile, [{ source: join(dir, 's*/a1'), destination: `${dir}/o/` }], ctx),
    /only after the last path separator/,
  );
});

void test('CopyFile overwrite false refuses an existing file; true replaces it', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { a: 'new', b: 'old' });
  const ctx = makeContext(dir);
  await assert.rejects(
    runAction(copyFile, [{ source: join(dir, 'a'), destination: join(dir, 'b'), overwrite: false }], ctx),
    { message: `CopyFile: ${join(dir, 'b')}: file exists and overwrite is false` },
  );
  assert.equal(await text(join(dir, 'b')), 'old');
  await runAction(copyFile, [{ source: join(dir, 'a'), destination: join(dir, 'b') }], ctx);
  assert.equal(await text(join(dir, 'b')), 'new');
});

void test('CopyFile: a missing source or a folder source fails naming it', async (t) => {
  const dir = await scratchDir(t);
  const ctx = makeContext(dir);
  await assert.rejects(runAction(copyFile, [{ source: join(dir, 'none'), destination: join(dir, 'x') }], ctx), {
    message: `CopyFile: ${join(dir, 'none')}: source file does not exist`,
  });
  await assert.rejects(runAction(copyFile, [{ source: dir, destination: join(dir, 'x') }], ctx), /use CopyFolder/);
});

void test('CopyFile of a symlink copies the file it points to', async (t) => {
  const dir = await scratchDir(t);
  await writeFile(join(dir, 'real'), 'R');
  await symlink(join(dir, 'real'), join(dir, 'link'));
  await runAction(copyFile, [{ source: join(dir, 'link'), destination: join(dir, 'copy') }], makeContext(dir));
  assert.ok((await lstat(join(dir, 'copy'))).isFile());
  assert.equal(await text(join(dir, 'copy')), 'R');
});

void test('MoveFile moves files (wildcard too) and honours overwrite false', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/a.log': 'a', 'src/b.log': 'b', 'src/keep.txt': 'k', 'dst/a.log': 'old' });
  const ctx = makeContext(dir);
  await assert.rejects(
    runAction(moveFile, [{ source: join(dir, 'src/*.log'), destination: `${join(dir, 'dst')}/`, overwrite: false }], ctx),
    { message: `MoveFile: ${join(dir, 'dst/a.log')}: file exists and overwrite is false` },
  );
  await runAction(moveFile, [{ source: join(dir, 'src/*.log'), destination: `${join(dir, 'dst')}/` }], ctx);
  assert.deepEqual((await readdir(join(dir, 'src'))).sort(), ['keep.txt']);
  assert.equal(await text(join(dir, 'dst/a.log')), 'a');
  await runAction(moveFile, [{ source: join(dir, 'src/keep.txt'), destination: join(dir, 'n/renamed') }], ctx);
  assert.equal(await text(join(dir, 'n/renamed')), 'k');
  assert.equal(await exists(join(dir, 'src/keep.txt')), false);
});

void test('CopyFolder copies a tree (modes and symlinks kept); trailing "/" keeps the source name', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'SampleFolder/a': 'A', 'SampleFolder/sub/b': 'B' });
  await writeFile(join(dir, 'SampleFolder/run.sh'), '#!', { mode: 0o700 });
  await symlink('a', join(dir, 'SampleFolder/link'));
  const ctx = makeContext(dir);
  await runAction(copyFolder, [{ source: join(dir, 'SampleFolder'), destination: join(dir, 'x/destinationFolder') }], ctx);
  await runAction(copyFolder, [{ source: join(dir, 'SampleFolder'), destination: `${join(dir, 'y')}/` }], ctx);
  for (const out of ['x/destinationFolder', 'y/SampleFolder']) {
    assert.equal(await text(join(dir, out, 'sub/b')), 'B', out);
    assert.equal((await stat(join(dir, out, 'run.sh'))).mode & 0o777, 0o700, out);
    assert.equal(await readlink(join(dir, out, 'link')), 'a', out);
  }
});

void test('CopyFolder merges into an existing folder, or refuses it with overwrite false', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/a': 'new', 'src/n': 'n', 'dst/a': 'old', 'dst/other': 'kept' });
  const ctx = makeContext(dir);
  await assert.rejects(
    runAction(copyFolder, [{ source: join(dir, 'src'), destination: join(dir, 'dst'), overwrite: false }], ctx),
    { message: `CopyFolder: ${join(dir, 'dst')}: folder exists and overwrite is false` },
  );
  await runAction(copyFolder, [{ source: join(dir, 'src'), destination: join(dir, 'dst') }], ctx);
  assert.equal(await text(join(dir, 'dst/a')), 'new');
  assert.equal(await text(join(dir, 'dst/n')), 'n');
  assert.equal(await text(join(dir, 'dst/other')), 'kept');
});

void test('CopyFolder with a wildcard copies matching folders only; into itself is refused', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'src/Sample1/a': '1', 'src/Sample2/b': '2', 'src/SampleFile': 'f', 'src/Other/c': 'c' });
  const ctx = makeContext(dir);
  await runAction(copyFolder, [{ source: join(dir, 'src/Sample*'), destination: `${join(dir, 'out')}/` }], ctx);
  assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['Sample1', 'Sample2']);
  await assert.rejects(
    runAction(copyFolder, [{ source: join(dir, 'src'), destination: join(dir, 'src/inner') }], ctx),
    /CopyFolder: .*\/src: cannot copy a folder into itself/,
  );
  await assert.rejects(
    runAction(copyFolder, [{ source: join(dir, 'missing'), destination: join(dir, 'z') }], ctx),
    { message: `CopyFolder: ${join(dir, 'missing')}: source folder does not exist` },
  );
});

void test('MoveFolder renames, creates missing parents, and merges into an existing folder', async (t) => {
  const dir = await scratchDir(t);
  await tree(dir, { 'SourceFolder/a': 'A', 'SourceFolder/s/b': 'B', 'two/a': 'new', 'dst/a': 'old', 'dst/keep': 'k' });
  const ctx = makeContext(dir);
  await runAction(moveFolder, [{ source: join(dir, 'SourceFolder'), destination: join(dir, 'p/q/moved') }], ctx);
  assert.equal(await text(join(dir, 'p/q/moved/s/b')), 'B');
  assert.equal(await exists(join(dir, 'SourceFolder')), false);

  await assert.rejects(
    runAction(moveFolder, [{ source: join(dir, 'two'), destination: join(dir, 'dst'), overwrite: false }], ctx),
    { message: `MoveFolder: ${join(dir, 'dst')}: folder exists and overwrite is false` },
  );
  await runAction(moveFolder, [{ source: join(dir, 'two'), destination: join(dir, 'dst') }], ctx);
  assert.equal(await text(join(dir, 'dst/a')), 'new');
  assert.equal(await text(join(dir, 'dst/keep')), 'k');
  assert.equal(await exists(join(dir, 'two')), false);

  await runAction(moveFolder, [{ source: join(dir, 'dst'), destination: `${join(dir, 'p')}/` }], ctx);
  assert.equal(await text(join(dir, 'p/dst/keep')), 'k');
});
