/**
 * A raw disk as a compact stream and back: zstd of the raw bytes. A machine image's disk is mostly holes, which
 * read as zeros and compress to almost nothing; on the way back runs of zeros are left as holes, so a disk
 * travels at about the compressed size of its data and lands sparse. Measured (bench/machine-disk-transfer.ts)
 * on the managed Debian machine base's disk, 2048 MiB raw with 433 MiB allocated: zstd -3 144 MiB, zstd -1 157,
 * zstd -9 133 at five to eight times the time, qcow2 400 (it only drops holes), qcow2 -c (zlib) 163 at four
 * to five times zstd -3's time. zstd also streams both ways, where qcow2 needs a temporary file at each end.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { KilnError } from '../../domain/errors.js';
import { hashSparseFile, type StoredDisk } from './disk-store.js';

/** zstd's level: 3 (its default) compresses a disk's data about as well as 9 at several times the speed. */
const LEVEL = 3;

function exited(child: ChildProcess, what: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new KilnError('Unavailable', 'zstd is not installed') : err));
    child.on('close', (code, sig) => (code === 0 ? resolve() : reject(new KilnError('Internal', `${what} failed (${sig ?? `exit ${code}`}): ${stderr().trim()}`))));
  });
}

function spawnZstd(args: string[], stdin: 'ignore' | 'pipe'): { child: ChildProcess; done: (what: string) => Promise<void> } {
  const child = spawn('zstd', args, { stdio: [stdin, stdin === 'pipe' ? 'ignore' : 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  return { child, done: (what) => exited(child, what, () => stderr) };
}

/** The disk `file` compressed, as it is read; the zstd process is killed when the reader stops early or `signal` aborts. */
export async function* compressDisk(file: string, signal?: AbortSignal): AsyncGenerator<Buffer> {
  signal?.throwIfAborted();
  const { child, done } = spawnZstd(['-q', `-${LEVEL}`, '-T0', '-c', '--', file], 'ignore');
  const finished = done('compressing the disk');
  finished.catch(() => undefined);
  const kill = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  try {
    for await (const chunk of child.stdout as Readable) yield chunk as Buffer;
    await finished;
    signal?.throwIfAborted();
  } finally {
    signal?.removeEventListener('abort', kill);
    if (child.exitCode === null && child.signalCode === null) kill();
  }
}

/**
 * Writes the disk `body` (compressDisk's stream) to the new file `out`, sparse (zstd writes runs of zeros as
 * holes), and returns its digest and size, hashed reading only its data (hashSparseFile).
 */
export async function decompressDisk(body: AsyncIterable<Uint8Array>, out: string, signal?: AbortSignal): Promise<StoredDisk> {
  signal?.throwIfAborted();
  // --sparse is zstd's default for file outputs; said anyway, since sparseness is the point.
  const { child, done } = spawnZstd(['-q', '-d', '--sparse', '-o', out], 'pipe');
  const finished = done('decompressing the disk');
  finished.catch(() => undefined);
  const kill = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  try {
    await (signal ? pipeline(Readable.from(body), child.stdin!, { signal }) : pipeline(Readable.from(body), child.stdin!));
    await finished;
  } finally {
    signal?.removeEventListener('abort', kill);
    if (child.exitCode === null && child.signalCode === null) kill();
  }
  const { size } = await fsp.stat(out);
  return { digest: await hashSparseFile(out, signal), sizeBytes: size };
}
