/**
 * Brings a disk file someone else made (qcow2, raw, vmdk or vhd) into Kiln's raw form with qemu-img, after
 * checking that it is what it claims and reaches no other file. A stranger's image must not make Kiln read host
 * paths: a qcow2 backing file or external data file, a VMDK descriptor naming extents or a parent are refused,
 * and qemu-img only ever opens the file with its format forced (no probing, which would let a "raw" file that is
 * really a qcow2 with a backing file be opened as one). Errors name the field (`file`, `format`), never a path.
 */
import * as fsp from 'node:fs/promises';
import { KilnError } from '../../domain/errors.js';
import { QEMU_FORMAT_NAME, type DiskFormat } from './convert.js';
import { runTool } from './run-tool.js';

/** The largest virtual disk an import may describe: 2 TiB, EC2's limit for an imported boot volume (MBR). */
export const MAX_IMPORT_VIRTUAL_BYTES = 2 * 1024 ** 4;
const MIN_IMPORT_VIRTUAL_BYTES = 1024 * 1024;

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
const VMDK_SPARSE_MAGIC = Buffer.from('KDMV');
const VHD_COOKIE = Buffer.from('conectix');
/** qcow2 v3 incompatible feature bit: the guest data lives in another file. */
const QCOW2_EXTERNAL_DATA_FILE = 1n << 2n;

function refused(field: 'file' | 'format', message: string): KilnError {
  return new KilnError('InvalidArgument', `${field}: ${message}`, [{ path: field, message }]);
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const handle = await fsp.open(file, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/**
 * What the bytes themselves say, before qemu-img opens anything: each container format by its magic, a qcow2
 * with neither backing file nor external data file, a VMDK that is a sparse extent (a text descriptor names
 * other files), a VHD with its footer. A raw file is anything that looks like none of the others.
 */
async function checkHeader(file: string, format: DiskFormat, size: number): Promise<void> {
  const head = await readAt(file, 0, 512);
  const looksLike = head.subarray(0, 4).equals(QCOW2_MAGIC) ? 'qcow2' : head.subarray(0, 4).equals(VMDK_SPARSE_MAGIC) ? 'vmdk' : head.subarray(0, 8).equals(VHD_COOKIE) ? 'vhd' : undefined;
  if (format === 'raw') {
    if (looksLike) throw refused('format', `the file is a ${looksLike} image, not raw; import it with --format ${looksLike}`);
    return;
  }
  if (format === 'qcow2') {
    if (looksLike !== 'qcow2') throw refused('format', 'the file is not a qcow2 image (no qcow2 header)');
    const version = head.readUInt32BE(4);
    if (head.readBigUInt64BE(8) !== 0n) throw refused('file', 'the qcow2 image has a backing file; import a standalone image (qemu-img convert it first)');
    if (version >= 3 && (head.readBigUInt64BE(72) & QCOW2_EXTERNAL_DATA_FILE) !== 0n) throw refused('file', 'the qcow2 image keeps its data in an external file; import a standalone image');
    return;
  }
  if (format === 'vmdk') {
    if (looksLike !== 'vmdk') throw refused('file', 'the VMDK is not a single sparse or stream-optimized file (a descriptor naming other files is not imported)');
    return;
  }
  // A dynamic VHD starts with a copy of its footer; a fixed one has it only at the end.
  const footer = size >= 512 ? await readAt(file, size - 512, 8) : Buffer.alloc(0);
  if (looksLike !== 'vhd' && !footer.equals(VHD_COOKIE)) throw refused('format', 'the file is not a VHD image (no "conectix" footer)');
}

interface QemuImgInfo {
  format?: string;
  'virtual-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'format-specific'?: { data?: { 'create-type'?: string; 'data-file'?: string; extents?: { filename?: string }[] } };
}

/** The facts of an imported disk. */
export interface ImportedDiskInfo {
  /** The disk's size as a machine sees it. */
  virtualSizeBytes: number;
}

/**
 * Checks `file` as a disk image of `format` (qemu-img info with the format forced: format, virtual size between
 * 1 MiB and MAX_IMPORT_VIRTUAL_BYTES, no backing file, no extents elsewhere) and writes it as a sparse raw disk
 * to `out`. InvalidArgument naming `file` or `format` for anything refused; a failure leaves nothing at `out`.
 */
export async function importDiskImage(file: string, format: DiskFormat, out: string, signal?: AbortSignal): Promise<ImportedDiskInfo> {
  const { size } = await fsp.stat(file);
  if (size === 0) throw refused('file', 'the file is empty');
  await checkHeader(file, format, size);
  const qemuFormat = QEMU_FORMAT_NAME[format];
  let info: QemuImgInfo;
  try {
    info = JSON.parse(await runTool('qemu-img', ['info', '--output=json', '-f', qemuFormat, file], signal ? { signal } : {})) as QemuImgInfo;
  } catch (err) {
    if (err instanceof KilnError && err.kind !== 'Internal') throw err;
    // qemu-img's message names our temporary file; the caller only needs to know the image did not open.
    throw refused('file', `qemu-img cannot read the file as ${format}`);
  }
  if (info.format !== qemuFormat) throw refused('format', `qemu-img reads the file as ${String(info.format)}, not ${format}`);
  if (info['backing-filename'] !== undefined || info['full-backing-filename'] !== undefined) throw refused('file', `the ${format} image has a backing file; import a standalone image`);
  const specific = info['format-specific']?.data;
  if (specific?.['data-file'] !== undefined) throw refused('file', 'the image keeps its data in an external file; import a standalone image');
  if (format === 'vmdk') {
    const createType = specific?.['create-type'];
    if (createType !== 'monolithicSparse' && createType !== 'streamOptimized') throw refused('file', `VMDK create type ${String(createType)} is not imported; use monolithicSparse or streamOptimized`);
    if ((specific?.extents ?? []).some((e) => e.filename !== undefined && e.filename !== file)) throw refused('file', 'the VMDK names extents in other files');
  }
  const virtual = info['virtual-size'] ?? 0;
  if (virtual < MIN_IMPORT_VIRTUAL_BYTES) throw refused('file', `the disk is ${virtual} bytes; an imported disk has at least 1 MiB`);
  if (virtual > MAX_IMPORT_VIRTUAL_BYTES) throw refused('file', `the disk is ${virtual} bytes; the limit is ${MAX_IMPORT_VIRTUAL_BYTES} (2 TiB)`);
  try {
    await runTool('qemu-img', ['convert', '-q', '-f', qemuFormat, '-O', 'raw', file, out], signal ? { signal } : {});
  } catch (err) {
    await fsp.rm(out, { force: true });
    if (err instanceof KilnError && err.kind === 'Internal') throw refused('file', `qemu-img could not convert the ${format} image (it is damaged or truncated)`);
    throw err;
  }
  return { virtualSizeBytes: virtual };
}
