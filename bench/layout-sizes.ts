/** Sizes of an image's layers in an OCI image layout, measured the same way whoever built the image. */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

export interface LayerSize {
  digest: string;
  /** Bytes of the blob as stored and pulled. */
  compressed: number;
  /** Bytes of the tar inside it. */
  uncompressed: number;
}

interface Descriptor {
  digest: string;
  mediaType: string;
  size: number;
  annotations?: Record<string, string>;
}

function blobPath(layout: string, digest: string): string {
  return path.join(layout, 'blobs', ...digest.split(':'));
}

/** The layers, in order, of the image tagged `tag` in the layout at `layout`; each decompressed to count its tar. */
export async function layoutLayerSizes(layout: string, tag: string): Promise<LayerSize[]> {
  const index = JSON.parse(await readFile(path.join(layout, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`index.json: no manifest tagged ${tag}`);
  const manifest = JSON.parse(await readFile(blobPath(layout, entry.digest), 'utf8')) as { layers: Descriptor[] };
  const sizes: LayerSize[] = [];
  for (const layer of manifest.layers) {
    let uncompressed = 0;
    const count = new Writable({
      write(chunk: Buffer, _encoding, done) {
        uncompressed += chunk.length;
        done();
      },
    });
    const source = createReadStream(blobPath(layout, layer.digest));
    if (layer.mediaType.endsWith('+gzip')) await pipeline(source, createGunzip(), count);
    else if (layer.mediaType.endsWith('+zstd')) {
      // The zstd program: the Node types this checkout builds against have no zstd in zlib.
      const zstd = spawn('zstd', ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise<number | null>((resolve, reject) => zstd.on('error', reject).on('close', resolve));
      await Promise.all([pipeline(source, zstd.stdin), pipeline(zstd.stdout, count)]);
      if ((await exited) !== 0) throw new Error(`layer ${layer.digest}: zstd could not decompress it`);
    }
    else await pipeline(source, count);
    sizes.push({ digest: layer.digest, compressed: layer.size, uncompressed });
  }
  return sizes;
}
