import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalS3, type LocalS3 } from '../../../test/helpers/s3rver.js';
import { ObjectBucket } from '../../artifacts/s3/object-bucket.js';
import { addHostRoot } from '../../domain/host-paths.js';
import { STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import { createS3Client } from '../../toe/actions/s3-config.js';
import { BucketStepLogStore } from './bucket-step-logs.js';
import { readStepLog, stepLogPath, type StepLogSlice } from './step-logs.js';
import { ExecutionRecorder } from './workflow-executions.js';
import { getStepRecord } from './step-executions.js';
import { WF_ARN, kind, setup } from './testing.js';

// A real S3-compatible server (s3rver); the writer and the reader each have their own client, as two nodes
// would, and share only the bucket.
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-s3-logs-'));
let s3: LocalS3;
let prefixes = 0;
before(async () => {
  s3 = await startLocalS3(dir, ['kiln']);
});
after(async () => {
  await s3.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Two nodes' views of one log prefix: a writer shipping every 100 ms and a reader. */
async function twoNodes(t: { after: (fn: () => void) => void }): Promise<{ writer: BucketStepLogStore; reader: BucketStepLogStore; inspect: ObjectBucket }> {
  const prefix = `n${++prefixes}/logs/`;
  const writerClient = await createS3Client(s3.settings);
  const readerClient = await createS3Client(s3.settings);
  t.after(() => {
    writerClient.destroy();
    readerClient.destroy();
  });
  return {
    writer: new BucketStepLogStore({ bucket: new ObjectBucket({ client: writerClient, bucket: 'kiln', prefix }), shipEveryMs: 100 }),
    reader: new BucketStepLogStore({ bucket: new ObjectBucket({ client: readerClient, bucket: 'kiln', prefix }) }),
    inspect: new ObjectBucket({ client: s3.client, bucket: 'kiln', prefix }),
  };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('bucket step logs: followed live through another node while the step writes, then the same slices as the file FsStepLogStore keeps', async (t) => {
  const { store, image } = await setup(t);
  const { writer, reader, inspect } = await twoNodes(t);
  const hostDir = await mkdtemp(path.join(tmpdir(), 'kiln-host-path-'));
  t.after(() => rm(hostDir, { recursive: true, force: true }));
  addHostRoot(hostDir, '<data-dir>');

  const recorder = new ExecutionRecorder(store, writer);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 1 });
  const step = await wf.startStep({ name: 'Run', action: 'ExecuteBash' });
  const id = step.stepExecutionId;
  assert.deepEqual(await reader.read(image.arn, id, 0), { text: '', lines: [], nextOffset: 0 }, 'nothing shipped yet reads as an empty log');

  // Follow as `kiln logs --follow` does: from the last nextOffset, while the step is still running.
  let offset = 0;
  const followed: string[] = [];
  const follow = async (): Promise<void> => {
    const slice = await reader.read(image.arn, id, offset, 64);
    followed.push(...slice.lines.map((l) => `${l.stream}:${l.text}`));
    offset = slice.nextOffset;
  };
  const expected: string[] = [];
  for (let batch = 0; batch < 4; batch++) {
    for (let i = 0; i < 5; i++) {
      const text = `batch ${batch} line ${i} ${'é🚀'.repeat(i)}`;
      step.log(`${text}\n`, i % 2 === 0 ? 'stdout' : 'stderr');
      expected.push(`${i % 2 === 0 ? 'stdout' : 'stderr'}:${text}`);
    }
    await until(`batch ${batch} to reach the reader`, async () => {
      await follow();
      return followed.length === expected.length;
    });
  }
  assert.deepEqual(followed, expected, 'every line once, in order, none cut, before the step ended');
  step.log(`built in ${hostDir}/scratch/x\n`);
  expected.push('info:built in <data-dir>/scratch/x');
  step.log('no newline at the end', 'stdout');
  expected.push('stdout:no newline at the end');
  await step.finish('COMPLETED');
  for (let before = -1; before !== offset; ) {
    before = offset;
    await follow();
  }
  assert.deepEqual(followed, expected, 'the rest arrives by the step end; host paths are redacted at write time');

  const segments = await inspect.list();
  assert.ok(segments.length >= 4 && segments.length <= 8, `one segment per shipment, not per line (${segments.length})`);
  assert.match(segments[0]!.key, /^app_1\.2\.3_1\/step-[0-9a-f-]+\.log\/000000000000$/);

  // The logical file is what the data directory would hold: read from both, every offset and window agree.
  const whole = Buffer.concat(await Promise.all(segments.map(async (s) => (await inspect.get(s.key))!)));
  assert.ok(whole.toString('utf8').startsWith(STAMPED_LOG_HEADER));
  const fsRoot = path.join(hostDir, 'logs');
  const file = stepLogPath(fsRoot, image.arn, id);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, whole);
  for (const window of [1, 100, 4096]) {
    for (let at = 0; at <= whole.length; at += 37) {
      const fromFile: StepLogSlice = await readStepLog(fsRoot, image.arn, id, at, window);
      assert.deepEqual(await reader.read(image.arn, id, at, window), fromFile, `offset ${at}, window ${window}`);
    }
  }
  await assert.rejects(reader.read(image.arn, id, whole.length + 1), kind('InvalidArgument', 'offset'));
  await assert.rejects(reader.read(image.arn, '../../etc/passwd', 0), kind('InvalidArgument', 'stepExecutionId'));
});

test('bucket step logs: a quiet step is one object; deleting the image deletes its logs from the bucket', async (t) => {
  const { store, image } = await setup(t);
  const { writer, reader, inspect } = await twoNodes(t);
  const recorder = new ExecutionRecorder(store, writer);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 2 });
  const quiet = await wf.startStep({ name: 'Quiet', action: 'ExecuteBash' });
  await quiet.finish('COMPLETED');
  const objects = await inspect.list();
  assert.equal(objects.length, 1);
  assert.equal((await inspect.get(objects[0]!.key))!.toString('utf8'), STAMPED_LOG_HEADER);
  assert.deepEqual(await reader.read(image.arn, quiet.stepExecutionId, 0), { text: '', lines: [], nextOffset: STAMPED_LOG_HEADER.length });

  const talkative = await wf.startStep({ name: 'Talk', action: 'ExecuteBash' });
  talkative.log('hello\n', 'stdout');
  await talkative.finish('COMPLETED');
  await wf.finish('COMPLETED');
  assert.equal((await inspect.list()).length, 2);
  await reader.deleteImageLogs(image.arn);
  assert.deepEqual(await inspect.list(), []);
  assert.deepEqual(await reader.read(image.arn, talkative.stepExecutionId, 0), { text: '', lines: [], nextOffset: 0 });
  await reader.deleteImageLogs(image.arn);
});

/** A bucket that refuses the first `failures` puts, keeping what it accepts in memory. */
class FlakyBucket extends ObjectBucket {
  readonly stored = new Map<string, Buffer>();
  constructor(public failures: number) {
    super({ client: s3.client, bucket: 'kiln' });
  }
  override put(key: string, body: Uint8Array): Promise<void> {
    if (this.failures-- > 0) return Promise.reject(new Error('503 SlowDown'));
    this.stored.set(key, Buffer.from(body));
    return Promise.resolve();
  }
}

test('bucket step logs: a refused shipment is retried with what came since; a bucket that keeps refusing marks the step log incomplete', async (t) => {
  const { store, image } = await setup(t);
  const flaky = new FlakyBucket(2);
  const recorder = new ExecutionRecorder(store, new BucketStepLogStore({ bucket: flaky, shipEveryMs: 20 }));
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 2 });
  const step = await wf.startStep({ name: 'Run', action: 'ExecuteBash' });
  step.log('one\n', 'stdout');
  await until('two refused shipments and a third', () => Promise.resolve(flaky.stored.size > 0));
  step.log('two\n', 'stdout');
  await step.finish('COMPLETED');
  const whole = Buffer.concat([...flaky.stored.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, b]) => b)).toString('utf8');
  assert.match(whole, new RegExp(`^${STAMPED_LOG_HEADER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S+ stdout one\\n\\S+ stdout two\\n$`));
  const keys = [...flaky.stored.keys()].map((k) => Number(k.slice(k.lastIndexOf('/') + 1)));
  assert.equal(keys[0], 0, 'the retried segment starts where the log starts');
  assert.equal((await getStepRecord(store, step.stepExecutionId))!.data.message, undefined);

  flaky.failures = Number.POSITIVE_INFINITY;
  const lost = await wf.startStep({ name: 'Lost', action: 'ExecuteBash' });
  lost.log('nobody will read this\n');
  await lost.finish('COMPLETED');
  assert.match(String((await getStepRecord(store, lost.stepExecutionId))!.data.message), /the step log is incomplete: 503 SlowDown/);
});
