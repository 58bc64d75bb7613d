import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { legacyLines, STAMPED_LOG_HEADER } from '../../logs/step-log-format.js';
import { SecretBox } from '../../store/secret-box.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { stepData } from './execution-shapes.js';
import { ExecutionRecorder } from './workflow-executions.js';
import { getStepRecord } from './step-executions.js';
import { imageLogFolder, readStepLog, stepLogPath } from './step-logs.js';
import { WF_ARN, kind, makeImage, setup } from './testing.js';

test('readStepLog: whole lines from an offset, size limits, records being written, old logs, and bad arguments name their field', async (t) => {
  const { logsRoot, recorder, image } = await setup(t);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 2 });
  const step = await wf.startStep({ name: 'S', action: 'ExecuteBash' });
  const id = step.stepExecutionId;
  const start = Buffer.byteLength(STAMPED_LOG_HEADER);
  assert.deepEqual(await readStepLog(logsRoot, image.arn, id, 0), { text: '', lines: [], nextOffset: start }, 'the header is skipped');
  step.log('héllo wörld → 🚀', 'stdout');
  step.log('oops\n', 'stderr');
  step.log(' done\nsecond\n', 'stdout');
  await step.finish('COMPLETED');
  const text = 'oops\nhéllo wörld → 🚀 done\nsecond\n';
  const all = await readStepLog(logsRoot, image.arn, id, 0);
  assert.equal(all.text, text);
  assert.deepEqual(all.lines.map((l) => [l.stream, l.text]), [['stderr', 'oops'], ['stdout', 'héllo wörld → 🚀 done'], ['stdout', 'second']]);
  assert.ok(all.lines.every((l) => l.time !== undefined && !Number.isNaN(Date.parse(l.time))));
  const size = all.nextOffset;
  assert.deepEqual(await readStepLog(logsRoot, image.arn, id, size), { text: '', lines: [], nextOffset: size });

  // Small windows: every read returns whole lines (a line longer than the window whole), and they concatenate.
  for (const window of [1, 2, 7, 40, 80]) {
    let offset = 0;
    let joined = '';
    for (let guard = 0; guard < 100; guard++) {
      const slice = await readStepLog(logsRoot, image.arn, id, offset, window);
      if (slice.text === '') break;
      assert.ok(slice.text.endsWith('\n'), `window ${window}: ${JSON.stringify(slice.text)}`);
      joined += slice.text;
      offset = slice.nextOffset;
    }
    assert.equal(joined, text, `window ${window}`);
    assert.equal(offset, size);
  }

  // A record still being written is left for the next read.
  const file = stepLogPath(logsRoot, image.arn, id);
  const record = Buffer.from('2026-01-01T00:00:00.000Z stdout late 🚀\n');
  await appendFile(file, record.subarray(0, 30));
  assert.deepEqual(await readStepLog(logsRoot, image.arn, id, size), { text: '', lines: [], nextOffset: size });
  await appendFile(file, record.subarray(30));
  assert.deepEqual(await readStepLog(logsRoot, image.arn, id, size), { text: 'late 🚀\n', lines: [{ time: '2026-01-01T00:00:00.000Z', stream: 'stdout', text: 'late 🚀' }], nextOffset: size + record.length });

  // A log written before streams were kept (no header) reads as its lines, the last one without newline too.
  const old = await wf.startStep({ name: 'Old', action: 'ExecuteBash' });
  await old.finish('COMPLETED');
  const oldFile = stepLogPath(logsRoot, image.arn, old.stepExecutionId);
  const oldText = 'publicsuffix one\ndebconf: two\nlast';
  await writeFile(oldFile, oldText);
  const oldAll = await readStepLog(logsRoot, image.arn, old.stepExecutionId, 0);
  assert.deepEqual(oldAll, { text: oldText, lines: legacyLines(oldText), nextOffset: Buffer.byteLength(oldText) });
  let joined = '';
  for (let offset = 0, guard = 0; guard < 100; guard++) {
    const slice = await readStepLog(logsRoot, image.arn, old.stepExecutionId, offset, 5);
    if (slice.text === '') break;
    joined += slice.text;
    offset = slice.nextOffset;
  }
  assert.equal(joined, oldText, 'an old log reads whole in small windows too');

  await assert.rejects(readStepLog(logsRoot, image.arn, id, size + record.length + 5), kind('InvalidArgument', 'offset'));
  await assert.rejects(readStepLog(logsRoot, image.arn, id, -1), kind('InvalidArgument', 'offset'));
  await assert.rejects(readStepLog(logsRoot, image.arn, id, 0.5), kind('InvalidArgument', 'offset'));
  await assert.rejects(readStepLog(logsRoot, image.arn, id, 0, 0), kind('InvalidArgument', 'maxBytes'));
  await assert.rejects(readStepLog(logsRoot, image.arn, '../../etc/passwd', 0), kind('InvalidArgument', 'stepExecutionId'));
  await assert.rejects(readStepLog(logsRoot, image.arn, id.toUpperCase(), 0), kind('InvalidArgument', 'stepExecutionId'));
  await assert.rejects(readStepLog(logsRoot, 'arn:aws:imagebuilder:local:111122223333:image/app/x.x.x', id, 0), kind('InvalidArgument', 'imageBuildVersionArn'));
  await assert.rejects(readStepLog(logsRoot, image.arn, 'step-00000000-0000-0000-0000-000000000000', 3), kind('InvalidArgument', 'offset'));
});

test('imageLogFolder is name_version_build and stays inside the logs root', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kiln-exec-folder-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.equal(imageLogFolder('arn:aws:imagebuilder:local:111122223333:image/web-server/1.0.0/7'), 'web-server_1.0.0_7');
  assert.throws(() => imageLogFolder('arn:aws:imagebuilder:local:111122223333:image/../1.0.0/7'), kind('InvalidArgument', 'imageBuildVersionArn'));
  assert.throws(() => imageLogFolder('arn:aws:imagebuilder:local:111122223333:component/c/1.0.0/1'), kind('InvalidArgument', 'imageBuildVersionArn'));
  // A log that cannot be written does not fail the build: the step's message says the log is incomplete.
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  t.after(() => store.close());
  const image = await makeImage(store, 'broken');
  const logsRoot = path.join(dir, 'logs');
  const recorder = new ExecutionRecorder(store, logsRoot);
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: WF_ARN, totalStepCount: 1 });
  const step = await wf.startStep({ name: 'S', action: 'ExecuteBash' });
  const file = stepLogPath(logsRoot, image.arn, step.stepExecutionId);
  await rm(file);
  await mkdir(file);
  step.log('lost');
  await step.finish('COMPLETED', { message: 'ok' });
  const d = stepData((await getStepRecord(store, step.stepExecutionId))!);
  assert.equal(d.status, 'COMPLETED');
  assert.match(d.message ?? '', /^ok \(the step log is incomplete: .*EISDIR/);
});
