import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SecretBox } from '../store/secret-box.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { BUILD_IMAGE_JOB } from '../domain/job-kinds.js';
import type { BuildServices } from './container/container-build.js';
import { BuildWorker } from './build-worker.js';
import { stateOf } from './stages/image-record.js';

async function exitedPid(): Promise<number> {
  const child = spawn('true');
  await once(child, 'exit');
  return child.pid!;
}

test('workers sharing a store: a start fails only its own dead processes\' builds; another node\'s lost build fails when its lease runs out, naming the worker', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-worker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(() => store.close());
  const sleeper = spawn('sleep', ['60']);
  t.after(() => sleeper.kill('SIGKILL'));

  // Three builds mid-way, each leased by a worker that is no longer polling, as a crash leaves them.
  const building = async (name: string, owner: string, leaseMs: number): Promise<string> => {
    const { record } = await store.createResource(
      { accountId: '111122223333', region: 'local', type: 'image', name, version: '1.0.0', arn: `arn:aws:imagebuilder:local:111122223333:image/${name}/1.0.0`, data: { state: { status: 'BUILDING' } }, build: 'assign' },
      undefined,
      { enqueue: BUILD_IMAGE_JOB },
    );
    assert.equal((await store.leaseJob([BUILD_IMAGE_JOB], owner, leaseMs))?.resourceArn, record.arn);
    return record.arn;
  };
  const crashedHere = await building('crashed-here', `this-host/${await exitedPid()}/aaaa1111`, 600_000);
  const otherNode = await building('other-node', 'other-host/4242/bbbb2222', 400);
  const liveHere = await building('live-here', `this-host/${sleeper.pid}/cccc3333`, 600_000);

  const logged: string[] = [];
  const worker = new BuildWorker({ store } as unknown as BuildServices, { concurrency: 1, pollMs: 50, node: 'this-host', log: (text) => logged.push(text) });
  await worker.start();
  t.after(() => worker.stop());
  const status = async (arn: string) => stateOf((await store.getResource(arn))!);

  assert.equal((await status(crashedHere)).status, 'FAILED', 'a dead process of this node: failed at start');
  assert.match((await status(crashedHere)).reason ?? '', /interrupted/);
  assert.equal((await status(otherNode)).status, 'BUILDING', 'another node\'s build is left to its lease');
  assert.equal((await status(liveHere)).status, 'BUILDING', 'a live process on this node keeps its build');

  const deadline = Date.now() + 10_000;
  while ((await status(otherNode)).status === 'BUILDING' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const lost = await status(otherNode);
  assert.equal(lost.status, 'FAILED');
  assert.match(lost.reason ?? '', /the build worker other-host\/4242\/bbbb2222 was lost/);
  assert.deepEqual((await store.listJobs({ resourceArn: otherNode })).map((j) => j.state), ['failed']);
  assert.equal((await status(liveHere)).status, 'BUILDING');
  assert.ok(logged.some((line) => line.includes('other-host/4242/bbbb2222')), 'the server log names the lost worker');
});
