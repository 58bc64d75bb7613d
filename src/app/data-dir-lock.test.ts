import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dataDirLockHolder, LOCK_FILE, lockDataDir } from './data-dir-lock.js';

test('the data directory lock: refused while another live process holds it, taken over from a dead one, shared within a process', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, LOCK_FILE);

  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => other.once('exit', resolve));
  t.after(() => other.kill('SIGKILL'));
  writeFileSync(file, `${other.pid}\n`);
  assert.equal(dataDirLockHolder(dir), other.pid);
  assert.throws(() => lockDataDir(dir), (err: Error) => {
    assert.match(err.message, new RegExp(`in use by another Kiln process \\(pid ${other.pid}`));
    assert.ok(!err.message.includes(dir), 'no host path');
    return true;
  });
  other.kill('SIGKILL');
  await exited;

  // Its holder is gone: taken over.
  const release = lockDataDir(dir);
  assert.equal(readFileSync(file, 'utf8').trim(), String(process.pid));
  assert.equal(dataDirLockHolder(dir), undefined, 'this process is not "another" holder');
  const second = lockDataDir(dir);
  release();
  assert.ok(existsSync(file), 'held while a second holder in this process has it');
  second();
  second();
  assert.ok(!existsSync(file), 'removed with the last holder');
});
