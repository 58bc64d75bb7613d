import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type TestContext } from 'node:test';
import { FsBlobStore } from '../../artifacts/blob-store.js';
import { writeImage } from '../../artifacts/oci/image.js';
import { isKilnError, KilnError } from '../../domain/errors.js';
import { SecretBox } from '../../store/secret-box.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { KILN_MANAGED_OWNER } from '../../store/visibility.js';
import { BaseProgress, describeStatus } from './base-progress.js';
import type { DebianBaseDeps, DebianBaseSpec, DebianBase } from './debian-base.js';
import { DEBIAN_CONTAINER_BASE, DEBIAN_MACHINE_BASE, ManagedBases, registerManagedBases } from './managed-bases.js';

test('progress follows mmdebstrap phases in any chunking, and estimates the time left', () => {
  const p = new BaseProgress(new Date(0), undefined);
  assert.equal(p.feed('SOURCE_DATE_EPOCH=1 (…)\nI: downloading pack'), true);
  assert.equal(p.phase, 'reading the mirror');
  assert.equal(p.feed('ages with apt...\n'), true);
  assert.deepEqual([p.phase, p.percent], ['downloading packages', 10]);
  assert.equal(p.feed('Get:1 http://… libc6\n'), false, 'other lines change nothing');
  p.feed('I: installing remaining packages inside the chroot...\n');
  assert.deepEqual([p.phase, p.percent], ['installing packages', 60]);
  // 30 s for 60 %: 20 s left.
  assert.equal(p.secondsLeft(new Date(30_000)), 20);
  // With the previous run's duration known, that is the estimate.
  assert.equal(new BaseProgress(new Date(0), 50).secondsLeft(new Date(30_000)), 20);
  assert.equal(new BaseProgress(new Date(0), 50).secondsLeft(new Date(45_000)), 5);
  assert.match(describeStatus({ name: 'b', arn: 'a', region: 'r', kind: 'container', state: 'preparing', phase: 'installing packages', percent: 60, secondsLeft: 20 }), /^b: installing packages \(60%, about 20 s left\)$/);
});

interface FakeRun {
  spec: DebianBaseSpec;
  signal: AbortSignal | undefined;
  finish: () => void;
  fail: (reason: string) => void;
  cleanedUp: boolean;
}

/** Managed bases over a temp store, with a bootstrap the test finishes by hand (it honours the abort signal). */
async function fixture(t: TestContext) {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-managed-'));
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  await registerManagedBases(store, ['local']);
  const runs: FakeRun[] = [];
  const logs: string[] = [];
  const bootstrap = (spec: DebianBaseSpec, deps: DebianBaseDeps): Promise<DebianBase> =>
    new Promise((resolve, reject) => {
      const run: FakeRun = { spec, signal: deps.signal, cleanedUp: false, finish: () => undefined, fail: (reason) => reject(new KilnError('Unavailable', reason)) };
      runs.push(run);
      deps.onOutput?.('SOURCE_DATE_EPOCH=1700000000\nI: installing remaining packages inside the chroot...\n');
      run.finish = () => void writeImage(deps.blobs, { layers: [], created: '2023-11-14T22:13:20Z', config: { Cmd: ['bash'] } }).then((image) => resolve({ image, packages: [], sourceDateEpoch: 1_700_000_000 }), reject);
      deps.signal?.addEventListener('abort', () => {
        // A real bootstrap takes a while to kill mmdebstrap and unmount; stop() must wait for that.
        setTimeout(() => {
          run.cleanedUp = true;
          reject(new KilnError('Cancelled', 'Debian base bootstrap cancelled'));
        }, 50);
      });
    });
  const managed = new ManagedBases({ store, blobs, mirror: 'http://mirror.invalid/debian', workRoot: path.join(dir, 'work'), regions: ['local'], log: (s) => logs.push(s), bootstrap });
  const record = async (name: string) => (await store.listResources({ accountId: KILN_MANAGED_OWNER, region: 'local', type: 'image', name }))[0]!;
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(cond());
  };
  return { store, managed, runs, logs, record, until };
}

test('a build that needs a base being prefetched waits for the same bootstrap; status shows the way there', async (t) => {
  const f = await fixture(t);
  assert.deepEqual((await f.managed.status()).map((b) => [b.name, b.state]), [[DEBIAN_CONTAINER_BASE, 'absent'], [DEBIAN_MACHINE_BASE, 'absent']]);
  const prefetch = f.managed.prepareAll();
  await f.until(() => f.runs.length === 1);
  const output: string[] = [];
  const build = f.managed.image(await f.record(DEBIAN_CONTAINER_BASE), AbortSignal.timeout(10_000), (s) => output.push(s));
  const [container, machine] = await f.managed.status();
  assert.equal(container!.state, 'preparing');
  assert.equal(container!.phase, 'installing packages');
  assert.equal(container!.percent, 60);
  assert.equal(machine!.state, 'absent');
  f.runs[0]!.finish();
  const ref = await build;
  assert.match(output.join(''), /^waiting for debian-12-container-x86, being prepared already: installing packages \(60%\)\n/, 'the build log says what it waits for');
  assert.equal(f.runs.filter((r) => !r.spec.includes).length, 1, 'one bootstrap of the container base');
  assert.equal(f.logs.filter((l) => l.includes(`${DEBIAN_CONTAINER_BASE}: preparing`)).length, 1);
  await f.until(() => f.runs.length === 2);
  assert.ok(f.runs[1]!.spec.includes?.length, 'then the machine base');
  assert.deepEqual(f.runs.map((r) => r.spec.lean), ['container', 'machine'], 'the container base is slim, the machine base keeps its docs');
  f.runs[1]!.finish();
  await prefetch;
  const after = await f.managed.status();
  assert.deepEqual(after.map((b) => b.state), ['ready', 'ready']);
  assert.equal(typeof after[0]!.lastDurationSeconds, 'number', 'the duration is kept for the next estimate');
  // Ready: asking again bootstraps nothing, even with a record read before the preparation ended.
  assert.deepEqual(await f.managed.image(await f.record(DEBIAN_CONTAINER_BASE)), ref);
  assert.equal(f.runs.length, 2);
});

test('stop() during a preparation aborts it and returns only once it has cleaned up; nothing counts as failed', async (t) => {
  const f = await fixture(t);
  const prefetch = f.managed.prepareAll();
  await f.until(() => f.runs.length === 1);
  await f.managed.stop();
  assert.equal(f.runs[0]!.signal?.aborted, true);
  assert.equal(f.runs[0]!.cleanedUp, true);
  await prefetch;
  assert.equal(f.runs.length, 1, 'the machine base is not started after a stop');
  assert.deepEqual((await f.managed.status()).map((b) => b.state), ['absent', 'absent']);
  await assert.rejects(f.managed.image(await f.record(DEBIAN_CONTAINER_BASE)), (e) => isKilnError(e, 'Cancelled'));
});

test('a cancelled build stops waiting; the bootstrap goes on while someone else waits, and stops with the last', async (t) => {
  const f = await fixture(t);
  const record = await f.record(DEBIAN_CONTAINER_BASE);
  const first = new AbortController();
  const second = new AbortController();
  const a = f.managed.image(record, first.signal);
  const b = f.managed.image(record, second.signal);
  await f.until(() => f.runs.length === 1);
  first.abort();
  await assert.rejects(a, (e) => isKilnError(e, 'Cancelled'));
  assert.equal(f.runs[0]!.signal?.aborted, false, 'still wanted by the second build');
  second.abort();
  await assert.rejects(b, (e) => isKilnError(e, 'Cancelled'));
  assert.equal(f.runs[0]!.signal?.aborted, true);
  await f.until(() => f.runs[0]!.cleanedUp);
});

test('a failed preparation is shown with its reason, and a new attempt clears it', async (t) => {
  const f = await fixture(t);
  const record = await f.record(DEBIAN_CONTAINER_BASE);
  const run = f.managed.image(record);
  await f.until(() => f.runs.length === 1);
  f.runs[0]!.fail('mirror http://mirror.invalid/debian is unreachable');
  await assert.rejects(run, /unreachable/);
  const [failed] = await f.managed.status();
  assert.equal(failed!.state, 'failed');
  assert.match(failed!.reason!, /unreachable/);
  assert.ok(f.logs.some((l) => /debian-12-container-x86: failed: .*unreachable/.test(l)));
  const again = f.managed.image(record);
  await f.until(() => f.runs.length === 2);
  assert.equal((await f.managed.status())[0]!.state, 'preparing');
  f.runs[1]!.finish();
  await again;
  assert.equal((await f.managed.status())[0]!.state, 'ready');
});
