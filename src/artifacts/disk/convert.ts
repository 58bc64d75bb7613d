/** Exports a raw disk to the formats hypervisors and cloud importers take, with qemu-img. */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import { runTool } from './run-tool.js';

export type DiskFormat = 'qcow2' | 'raw' | 'vmdk' | 'vhd';

/** qemu-img arguments per format: VMDK as AWS/VMware import it (streamOptimized), VHD fixed as Azure wants. */
const QEMU_IMG_ARGS: Record<DiskFormat, string[]> = {
  qcow2: ['-O', 'qcow2'],
  raw: ['-O', 'raw'],
  vmdk: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'],
  vhd: ['-O', 'vpc', '-o', 'subformat=fixed,force_size=on'],
};

/** The name qemu-img info reports for each format. */
export const QEMU_FORMAT_NAME: Record<DiskFormat, string> = { qcow2: 'qcow2', raw: 'raw', vmdk: 'vmdk', vhd: 'vpc' };

export function isDiskFormat(value: string): value is DiskFormat {
  return Object.hasOwn(QEMU_IMG_ARGS, value);
}

/**
 * Converts the raw disk `raw` to `format` at `out`. The file appears at `out` only when complete (written
 * beside it, then renamed); a failure or abort leaves nothing behind. Resolves with the size on disk.
 */
export async function convertDisk(raw: string, out: string, format: DiskFormat, signal?: AbortSignal): Promise<{ path: string; sizeBytes: number }> {
  if (!isDiskFormat(format)) throw new KilnError('InvalidArgument', `format: ${String(format)} is not one of qcow2, raw, vmdk, vhd`, [{ path: 'format', message: 'unknown format' }]);
  const st = await fsp.stat(raw).catch(() => undefined);
  if (!st?.isFile()) throw new KilnError('NotFound', `raw: ${raw} is not a file`, [{ path: 'raw', message: 'not a file' }]);
  const partial = path.join(path.dirname(path.resolve(out)), `.${path.basename(out)}.partial-${process.pid}-${Date.now()}`);
  try {
    await runTool('qemu-img', ['convert', '-q', '-f', 'raw', ...QEMU_IMG_ARGS[format], raw, partial], { signal });
    if (signal?.aborted) throw new KilnError('Cancelled', `convertDisk: cancelled before ${out} was written`);
    await fsp.rename(partial, out);
  } finally {
    await fsp.rm(partial, { force: true });
  }
  const written = await fsp.stat(out);
  return { path: out, sizeBytes: written.blocks * 512 };
}
