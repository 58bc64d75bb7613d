/**
 * Output layer compression (issue 16): the time to turn a build's changed tree into a stored layer (tar +
 * diff_id + compress + store), Node's zlib at level 6 on one thread (Kiln before pigz) against pigz at levels
 * 1, 3, 4 and 6 on every CPU and zstd 3; then the same with the unpack the test stage needs: before, the blob was
 * gunzipped and extracted after it was stored (LayerCache.layerDir); now writeLayer's `unpackInto` extracts
 * from the tar stream while it is compressed.
 *
 * The tree is what `apt-get install -y jq` adds to a Debian base (about 160 MB): apt's package lists
 * (decompressed from this host's), apt's binary caches (made by `apt-cache gencaches` into the temp dir), then
 * shared libraries and docs of this host up to TREE_MB. Variants run interleaved, ROUNDS times; medians.
 * Needs root (the unpack keeps owners and device nodes). `BENCH_TREE=DIR` uses DIR instead.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { FsBlobStore } from '../src/artifacts/blob-store.js';
import { layerTar, writeLayer, type Compression } from '../src/artifacts/oci/layer.js';
import { LayerCache } from '../src/artifacts/oci/unpack.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const TREE_BYTES = Number(process.env.TREE_MB ?? 160) * 1e6;
const EPOCH = 1_700_000_000;

if (process.getuid?.() !== 0) {
  console.log('layer-compress benchmark: needs root (the unpack keeps owners and device nodes); skipped');
  process.exit(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const work = await fsp.mkdtemp(path.join(tmpdir(), 'kiln-bench-layer-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

/** Copies regular files of `from` (depth first, sorted) into `to` until `budget` bytes; returns the bytes copied. */
async function copyUpTo(from: string, to: string, budget: number): Promise<number> {
  let copied = 0;
  async function walk(dir: string): Promise<void> {
    const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (copied >= budget) return;
      const src = path.join(dir, e.name);
      const dst = path.join(to, path.relative(from, src));
      if (e.isDirectory()) await walk(src);
      else if (e.isFile()) {
        const st = await fsp.stat(src);
        if (copied + st.size > budget) continue;
        await fsp.mkdir(path.dirname(dst), { recursive: true });
        await fsp.copyFile(src, dst);
        copied += st.size;
      }
    }
  }
  await walk(from);
  return copied;
}

/** An upper dir like apt-get install jq leaves: lists, binary caches, then libraries and docs. */
async function aptLikeTree(dir: string): Promise<void> {
  const lists = path.join(dir, 'var/lib/apt/lists');
  await fsp.mkdir(lists, { recursive: true });
  let bytes = 0;
  for (const name of await fsp.readdir('/var/lib/apt/lists').catch(() => [] as string[])) {
    const src = path.join('/var/lib/apt/lists', name);
    if (!(await fsp.stat(src)).isFile()) continue;
    // apt keeps lists uncompressed in an mmdebstrap'd base; hosts often keep them lz4- or xz-compressed.
    const out = path.join(lists, name.replace(/\.(lz4|xz|gz)$/, ''));
    execFileSync('sh', ['-c', '/usr/lib/apt/apt-helper cat-file "$1" > "$2"', 'sh', src, out]);
    bytes += (await fsp.stat(out)).size;
  }
  const cache = path.join(dir, 'var/cache/apt');
  await fsp.mkdir(cache, { recursive: true });
  try {
    execFileSync('apt-cache', ['-o', `Dir::Cache::pkgcache=${cache}/pkgcache.bin`, '-o', `Dir::Cache::srcpkgcache=${cache}/srcpkgcache.bin`, 'gencaches'], { stdio: 'ignore' });
    for (const f of await fsp.readdir(cache)) bytes += (await fsp.stat(path.join(cache, f))).size;
  } catch {
    console.log('(apt-cache gencaches failed: no binary caches in the tree)');
  }
  bytes += await copyUpTo('/usr/lib/x86_64-linux-gnu', path.join(dir, 'usr/lib/x86_64-linux-gnu'), (TREE_BYTES - bytes) * 0.6);
  await copyUpTo('/usr/share/doc', path.join(dir, 'usr/share/doc'), TREE_BYTES - bytes);
}

const tree = process.env.BENCH_TREE ?? path.join(work, 'tree');
if (!process.env.BENCH_TREE) await aptLikeTree(tree);

/** Kiln before pigz: the same tar, hashed for the diff_id, gzipped by Node's zlib (level 6, one thread). */
async function zlibLayer(store: FsBlobStore): Promise<{ digest: string; size: number; mediaType: string }> {
  const diff = createHash('sha256');
  async function* measured(): AsyncGenerator<Buffer> {
    for await (const chunk of await layerTar(tree, { source: 'overlay-upper', sourceDateEpoch: EPOCH })) {
      diff.update(chunk);
      yield chunk;
    }
  }
  const gzip = createGzip({ level: 6 });
  const [, info] = await Promise.all([pipeline(Readable.from(measured()), gzip), store.put(gzip)]);
  return { ...info, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };
}

interface Variant {
  name: string;
  run(store: FsBlobStore, layers: LayerCache): Promise<number>;
}

const variants: Variant[] = [
  { name: 'zlib 6 (before)', run: async (store) => (await zlibLayer(store)).size },
  ...[1, 3, 4, 6].map((level) => ({ name: `pigz ${level}`, run: async (store: FsBlobStore) => (await writeLayer(store, tree, { source: 'overlay-upper', sourceDateEpoch: EPOCH, level })).size })),
  { name: 'zstd 3', run: async (store) => (await writeLayer(store, tree, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'zstd' })).size },
  {
    name: 'zlib 6 + unpack blob',
    run: async (store, layers) => {
      const layer = await zlibLayer(store);
      await layers.layerDir(layer);
      return layer.size;
    },
  },
  ...([
    ['gzip', 1],
    ['gzip', 4],
    ['gzip', 6],
    ['zstd', 3],
  ] as [Compression, number][]).map(([compression, level]) => ({
    name: `${compression === 'gzip' ? 'pigz' : 'zstd'} ${level} + unpackInto`,
    run: async (store: FsBlobStore, layers: LayerCache) => {
      const layer = await writeLayer(store, tree, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression, level, unpackInto: layers });
      if (!layer.dir) throw new Error('unpackInto gave no dir');
      return layer.size;
    },
  })),
];

const uncompressed = (await writeLayer(new FsBlobStore(path.join(work, 'probe')), tree, { source: 'overlay-upper', sourceDateEpoch: EPOCH, compression: 'none' })).uncompressedSize;
await fsp.rm(path.join(work, 'probe'), { recursive: true, force: true });
console.log(`layer of ${(uncompressed / 1e6).toFixed(1)} MB uncompressed, ${availableParallelism()} CPUs, load ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}, ${ROUNDS} interleaved rounds`);

const times = new Map<string, number[]>(variants.map((v) => [v.name, []]));
const sizes = new Map<string, number>();
for (let round = 0; round < ROUNDS; round++) {
  for (const v of variants) {
    const dir = path.join(work, 'out');
    const store = new FsBlobStore(path.join(dir, 'blobs'));
    const layers = new LayerCache(path.join(dir, 'layers'), store);
    const t0 = performance.now();
    sizes.set(v.name, await v.run(store, layers));
    times.get(v.name)!.push(performance.now() - t0);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

const baseTime = median(times.get('zlib 6 (before)')!);
const baseSize = sizes.get('zlib 6 (before)')!;
const unpackBase = median(times.get('zlib 6 + unpack blob')!);
console.log(`${'variant'.padEnd(24)} ${'median'.padStart(8)}  ${'vs zlib 6'.padStart(9)}  ${'size'.padStart(9)}  ${'vs zlib 6'.padStart(9)}  runs`);
for (const v of variants) {
  const ms = median(times.get(v.name)!);
  const base = v.name.includes('unpack') ? unpackBase : baseTime;
  const size = sizes.get(v.name)!;
  console.log(`${v.name.padEnd(24)} ${ms.toFixed(0).padStart(6)} ms  ${(ms / base).toFixed(2).padStart(8)}x  ${(size / 1e6).toFixed(1).padStart(6)} MB  ${(size / baseSize).toFixed(3).padStart(8)}x  ${times.get(v.name)!.map((x) => x.toFixed(0)).join(', ')}`);
}
console.log('(+ unpack rows compare with "zlib 6 + unpack blob": the layer write and the test stage\'s unpack of it)');
