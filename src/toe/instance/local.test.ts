import assert from 'node:assert/strict';
import test from 'node:test';
import { execLocal, LocalInstance } from './local.js';

test('exec through the launcher: output, exit codes, cwd, and NUL bytes in output', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const chunks: string[] = [];
  const r = await inst.exec(['bash', '-c', 'echo out; echo err >&2; printf "a\\0b"; exit 7'], { onStdout: (c) => chunks.push(String(c)) });
  assert.equal(r.exitCode, 7);
  assert.equal(r.stdout, 'out\na\0b');
  assert.equal(r.stderr, 'err\n');
  assert.equal(chunks.join(''), 'out\na\0b');
  assert.equal((await inst.exec(['pwd'], { cwd: '/usr' })).stdout, '/usr\n');
  assert.equal((await inst.exec(['printf', '%s|', 'two words', '', "it's"])).stdout, "two words||it's|");
});

test('a missing program fails with 127 and a message; a missing cwd fails too', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const r = await inst.exec(['no-such-program-kiln']);
  assert.equal(r.exitCode, 127);
  assert.match(r.stderr, /no-such-program-kiln/);
  const c = await inst.exec(['true'], { cwd: '/no/such/dir' });
  assert.notEqual(c.exitCode, 0);
});

test('large output arrives whole, in order', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const r = await inst.exec(['bash', '-c', 'seq 1 200000']);
  assert.equal(r.stdout.split('\n').length, 200001);
  assert.ok(r.stdout.endsWith('199999\n200000\n'));
});

test('timeouts and aborts kill the process tree; the launcher keeps working afterwards', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const t0 = Date.now();
  const r = await inst.exec(['bash', '-c', 'sleep 100 & sleep 100'], { timeoutMs: 300 });
  assert.equal(r.timedOut, true);
  assert.equal(r.exitCode, null);
  assert.ok(Date.now() - t0 < 5000);
  const c = new AbortController();
  setTimeout(() => c.abort(), 200);
  const a = await inst.exec(['sleep', '100'], { signal: c.signal });
  assert.equal(a.aborted, true);
  assert.equal((await inst.exec(['echo', 'still here'])).stdout, 'still here\n');
});

test('concurrent execs all complete (the launcher runs one, the others spawn directly)', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const results = await Promise.all([1, 2, 3, 4].map((i) => inst.exec(['bash', '-c', `sleep 0.1; echo ${i}`])));
  assert.deepEqual(results.map((r) => r.stdout), ['1\n', '2\n', '3\n', '4\n']);
});

test('an idle instance does not keep the program alive, even without dispose', async () => {
  const code = `import { LocalInstance } from ${JSON.stringify(new URL('./local.js', import.meta.url).href)};
    const i = new LocalInstance(); const r = await i.exec(['echo', 'hi']); process.stdout.write(r.stdout);`;
  const r = await execLocal(['node', '--input-type=module', '-e', code], { timeoutMs: 10_000 });
  assert.equal(r.timedOut, false, 'the program exited by itself');
  assert.equal(r.stdout, 'hi\n');
});

test('a launcher that dies mid-run fails that exec clearly and is restarted for the next', async (t) => {
  const inst = new LocalInstance();
  t.after(() => inst.dispose());
  const r = await inst.exec(['bash', '-c', 'kill -9 $PPID; sleep 1']);
  assert.match(r.spawnError ?? '', /launcher exited unexpectedly/);
  assert.equal((await inst.exec(['echo', 'again'])).stdout, 'again\n');
});
