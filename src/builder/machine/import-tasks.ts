/**
 * Import tasks, Kiln's counterpart of EC2's ImportImage: a disk file uploaded by its owner, checked and
 * converted into the disk store, then named by an `import-ami-` + 17 hex id that ImportVmImage takes as its
 * `vmImportTaskId`. A task is a resource of type `import-image-task` under an EC2-style ARN, private to its
 * account and region; it keeps the disk, so the garbage collector keeps the disk too.
 */
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { importDiskImage, MAX_IMPORT_VIRTUAL_BYTES } from '../../artifacts/disk/disk-import.js';
import type { DiskFormat } from '../../artifacts/disk/convert.js';
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { rootPartitionUuid, type MachineDisk } from './machine-disk.js';
import { inspectDisk, type GuestAccess } from './disk-inspection.js';
import type { ImageInventory, ListedPackage } from '../../domain/package-inventory.js';

export const IMPORT_TASK_TYPE = 'import-image-task';
const TASK_ID_RE = /^import-ami-[0-9a-f]{17}$/;
/** The largest file an upload may send; a sparse qcow2 or VMDK of a full 2 TiB disk is far smaller. */
export const MAX_IMPORT_UPLOAD_BYTES = MAX_IMPORT_VIRTUAL_BYTES;

/** An import task as stored (and as `kiln images import --json` prints it). */
export interface ImportTaskData {
  importTaskId: string;
  status: 'completed';
  format: DiskFormat;
  /** Bytes received. */
  uploadedBytes: number;
  disk: MachineDisk;
  creationDate: string;
  /**
   * How a vm build can reach the guest, read from the disk at import; 'unknown' when its root filesystem is not
   * readable without mounting (XFS, btrfs, LVM, encrypted). Absent on tasks imported before Kiln inspected disks.
   */
  guest?: GuestAccess | 'unknown';
  /** The disk's os-release and packages, when its root filesystem was readable. */
  inventory?: ImageInventory;
  packages?: ListedPackage[];
}

export function isImportTaskId(text: string): boolean {
  return TASK_ID_RE.test(text);
}

export function importTaskArn(region: string, accountId: string, taskId: string): string {
  return `arn:aws:ec2:${region}:${accountId}:import-image-task/${taskId}`;
}

export function importTaskData(record: ResourceRecord): ImportTaskData {
  return record.data as unknown as ImportTaskData;
}

/**
 * A task as `kiln images import` and `kiln images imports` show it: its id, status, format, sizes, what was found
 * on the disk (guest access, operating system, package count) and, when listed, the images made from it.
 */
export function importTaskView(data: ImportTaskData, imageArns?: string[]): Record<string, unknown> {
  return {
    importTaskId: data.importTaskId,
    status: data.status,
    format: data.format,
    uploadedBytes: data.uploadedBytes,
    diskSizeBytes: data.disk.sizeBytes,
    creationDate: data.creationDate,
    guest: data.guest ?? 'unknown',
    ...(data.inventory?.os ? { os: data.inventory.os } : {}),
    packageCount: data.packages?.length ?? 0,
    ...(imageArns ? { imageArns } : {}),
  };
}

/**
 * The import tasks of `accountId` in `region`, newest first, each with the ARNs of the images ImportVmImage made
 * from it there (the `importTask` their records keep): Kiln's DescribeImportImageTasks.
 */
export async function listImportTasks(store: Store, accountId: string, region: string): Promise<Record<string, unknown>[]> {
  const tasks = await store.listResources({ accountId, region, type: IMPORT_TASK_TYPE });
  const images = await store.listResources({ accountId, region, type: 'image' });
  const madeFrom = new Map<string, string[]>();
  for (const image of images) {
    const task = image.data.importTask;
    if (typeof task === 'string') madeFrom.set(task, [...(madeFrom.get(task) ?? []), image.arn]);
  }
  return tasks
    .map(importTaskData)
    .sort((a, b) => b.creationDate.localeCompare(a.creationDate) || a.importTaskId.localeCompare(b.importTaskId))
    .map((data) => importTaskView(data, madeFrom.get(data.importTaskId) ?? []));
}

/** The task `taskId` of `accountId` in `region`; undefined for another account's or region's, as for an unknown one. */
export async function findImportTask(store: Store, accountId: string, region: string, taskId: string): Promise<ResourceRecord | undefined> {
  if (!isImportTaskId(taskId)) return undefined;
  const record = await store.getResource(importTaskArn(region, accountId, taskId));
  return record?.type === IMPORT_TASK_TYPE ? record : undefined;
}

/** What an import needs from the engine: the disk store and a folder on its filesystem for the upload. */
export interface ImportDeps {
  store: Store;
  disks: DiskStore;
  workRoot: string;
}

/** Writes `body` to `file`, refusing (InvalidArgument naming `file`) a body over `limit` bytes; answers the bytes written. */
async function receive(body: Readable, file: string, limit: number, signal: AbortSignal): Promise<number> {
  let bytes = 0;
  const counted = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length;
      if (bytes > limit) throw new KilnError('InvalidArgument', `file: the upload is larger than the limit of ${limit} bytes`, [{ path: 'file', message: 'too large' }]);
      yield chunk;
    }
  };
  await pipeline(body, counted, createWriteStream(file, { mode: 0o600 }), { signal });
  return bytes;
}

/**
 * Receives a disk file for `who`, checks and converts it (disk-import.ts), reads what it holds (disk-inspection.ts),
 * stores the raw disk and records the task. The upload's folder under the work root is removed whatever happens.
 */
export async function importUploadedDisk(deps: ImportDeps, who: { accountId: string; region: string }, body: Readable, format: DiskFormat, signal: AbortSignal): Promise<ImportTaskData> {
  const taskId = `import-ami-${randomBytes(9).toString('hex').slice(0, 17)}`;
  const dir = path.join(deps.workRoot, taskId);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const upload = path.join(dir, 'upload');
    const uploadedBytes = await receive(body, upload, MAX_IMPORT_UPLOAD_BYTES, signal);
    const raw = path.join(dir, 'disk.raw');
    await importDiskImage(upload, format, raw, signal);
    await fsp.rm(upload, { force: true });
    const rootPartUuid = await rootPartitionUuid(raw, signal);
    const { guest, inventory, packages } = await inspectDisk(raw, path.join(dir, 'inspect'), signal);
    const stored = await deps.disks.adopt(raw, signal);
    const data: ImportTaskData = {
      importTaskId: taskId,
      status: 'completed',
      format,
      uploadedBytes,
      // Nothing is known of the kernel of a disk Kiln did not make; the root partition only when it is typed as one.
      disk: { ...stored, format: 'raw', rootPartUuid, kernelVersion: '' },
      creationDate: new Date().toISOString(),
      guest,
      ...(inventory ? { inventory } : {}),
      packages,
    };
    await deps.store.createResource({ accountId: who.accountId, region: who.region, type: IMPORT_TASK_TYPE, name: taskId, version: '', arn: importTaskArn(who.region, who.accountId, taskId), build: 'none', data: data as unknown as Record<string, unknown> });
    return data;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
