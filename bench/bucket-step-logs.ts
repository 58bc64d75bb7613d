/**
 * Step logs in the object store (s3rver on loopback, as the tests start it): a step writing LINES lines over
 * SECONDS seconds through one BucketStepLogStore (default shipping, every 1 s), followed from another as
 * `kiln logs --follow` does (a read from the last offset every 250 ms). Reports the objects made, the delay
 * from a line's write to its first read (median and max), and the time to read the finished log from offset 0
 * in 256 KiB slices.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectBucket } from '../src/artifacts/s3/object-bucket.js';
import { BucketStepLogStore } from '../src/builder/records/execution-records.js';
import { createS3Client } from '../src/toe/actions/s3-config.js';
import { startLocalS3 } from '../test/helpers/s3rver.js';

const LINES = Number(process.env.LINES ?? 20_000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const IMAGE = 'arn:aws:imagebuilder:local:111122223333:image/bench/1.0.0/1';
const STEP = 'step-00000000-0000-4000-8000-000000000001';

const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-logs-'));
const s3 = await startLocalS3(dir, ['kiln']);
try {
  const writerClient = await createS3Client(s3.settings);
  const readerClient = await createS3Client(s3.settings);
  const writer = new BucketStepLogStore({ bucket: new ObjectBucket({ client: writerClient, bucket: 'kiln', prefix: 'logs/' }) });
  const reader = new BucketStepLogStore({ bucket: new ObjectBucket({ client: readerClient, bucket: 'kiln', prefix: 'logs/' }) });
  const sink = await writer.create(IMAGE, STEP);
  const written = new Map<number, number>();
  const delays: number[] = [];
  let offset = 0;
  let done = false;
  const follow = (async () => {
    while (delays.length < LINES) {
      const closed = done;
      const slice = await reader.read(IMAGE, STEP, offset);
      const now = performance.now();
      for (const line of slice.lines) delays.push(now - written.get(Number(line.text.slice(5, 13)))!);
      // A read that began after the close and found nothing new: the log is complete.
      if (slice.nextOffset === offset && closed) break;
      offset = slice.nextOffset;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) {
    const due = t0 + (i * SECONDS * 1000) / LINES;
    const wait = due - performance.now();
    if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
    written.set(i, performance.now());
    sink.append(`${new Date().toISOString()} stdout line ${String(i).padStart(8, '0')} ${'x'.repeat(60)}\n`);
  }
  await sink.close();
  done = true;
  await follow;
  const objects = await new ObjectBucket({ client: s3.client, bucket: 'kiln', prefix: 'logs/' }).list();
  const bytes = objects.reduce((n, o) => n + o.size, 0);
  const sorted = [...delays].sort((a, b) => a - b);
  const r0 = performance.now();
  let at = 0;
  let slices = 0;
  for (;;) {
    const slice = await reader.read(IMAGE, STEP, at);
    if (slice.nextOffset === at) break;
    at = slice.nextOffset;
    slices++;
  }
  const readMs = performance.now() - r0;
  console.log(`${LINES} lines over ${SECONDS} s: ${objects.length} objects, ${(bytes / 1024 / 1024).toFixed(1)} MiB`);
  console.log(`write-to-follow delay: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} ms, max ${sorted.at(-1)!.toFixed(0)} ms (lines seen: ${delays.length})`);
  console.log(`whole log from offset 0: ${slices} slices in ${readMs.toFixed(0)} ms`);
  writerClient.destroy();
  readerClient.destroy();
} finally {
  await s3.stop();
  await rm(dir, { recursive: true, force: true });
}
