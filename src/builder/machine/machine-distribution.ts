/**
 * Distribution of a built machine image to one region, as the distribution configuration says: a machine image
 * registered for the building account and each of `targetAccountIds`, named from the template, tagged, with its
 * launch permissions; and the disk exported where `s3ExportConfiguration` asks.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { convertDisk, type DiskFormat } from '../../artifacts/disk/convert.js';
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import { KilnError, errorMessage } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import type { ContainerImageRef } from '../stages/image-record.js';
import type { MachineDisk } from './machine-disk.js';
import type { ExportUpload } from './machine-services.js';
import { MACHINE_IMAGE_TYPE, machineImageData, registerMachineImage } from './machine-images.js';

type Obj = Record<string, unknown>;

/** outputResources.amis entries and the files exported. */
export interface MachineDistribution {
  amis: { region: string; image: string; name: string; description?: string; state: { status: 'AVAILABLE' }; accountId: string }[];
  /** `path`: the file written under exportBuckets, or `s3://bucket/key` when the export went to the object store. */
  exports: { region: string; format: string; bucket: string; key: string; path: string }[];
}

const EXPORT_FORMATS: Record<string, DiskFormat> = { RAW: 'raw', VMDK: 'vmdk', VHD: 'vhd' };

const two = (n: number) => String(n).padStart(2, '0');

/**
 * `{{ imagebuilder:buildDate }}` (ISO time with `-` for `:`, as AWS writes it), `{{ imagebuilder:buildDate:FMT }}`
 * with yyyy MM dd HH mm ss, and `{{ imagebuilder:buildVersion }}` (the build number).
 */
export function renderNameTemplate(template: string, date: Date, buildVersion: number): string {
  return template.replace(/\{\{\s*imagebuilder:(buildDate(?::([A-Za-z0-9._-]+))?|buildVersion)\s*\}\}/g, (_, what: string, format: string | undefined) => {
    if (what === 'buildVersion') return String(buildVersion);
    if (!format) return date.toISOString().replace(/:/g, '-');
    return format
      .replace(/yyyy/g, String(date.getUTCFullYear()))
      .replace(/MM/g, two(date.getUTCMonth() + 1))
      .replace(/dd/g, two(date.getUTCDate()))
      .replace(/HH/g, two(date.getUTCHours()))
      .replace(/mm/g, two(date.getUTCMinutes()))
      .replace(/ss/g, two(date.getUTCSeconds()));
  });
}

export interface DistributionDeps {
  store: Store;
  disks: DiskStore;
  exportBuckets: Readonly<Record<string, string>>;
  /** Where buckets not in exportBuckets go (the object store), and the scratch folder uploads are converted in. */
  exportUpload?: ExportUpload;
  workRoot?: string;
  regions: readonly string[];
}

/** One region a machine image goes to: its distribution (index and settings), or the build region by default. */
export interface MachineRegion {
  region: string;
  /** The index in `distributions`, for naming fields; undefined for the build region's default. */
  index: number | undefined;
  distribution: Obj;
}

/** The regions a machine image is distributed to, in order: each distribution's, or the build region alone. */
export function machineRegions(image: ResourceRecord): MachineRegion[] {
  const config = (image.data.distributionConfiguration ?? {}) as Obj;
  const given = Array.isArray(config.distributions) ? (config.distributions as Obj[]) : [];
  if (given.length === 0) return [{ region: image.region, index: undefined, distribution: { region: image.region } }];
  return given.map((d, index) => ({ region: String(d.region ?? image.region), index, distribution: d }));
}

/**
 * Registers the built disk in one region for the building account and each of `targetAccountIds`, with the
 * region's launch permissions, and exports it where s3ExportConfiguration says. A machine image this image
 * build already registered there under the same name is kept, so a retried distribution makes no duplicate.
 * Throws InvalidArgument naming the field at fault.
 */
export async function distributeMachineRegion(
  deps: DistributionDeps,
  image: ResourceRecord,
  built: { disk: MachineDisk; rootfs?: ContainerImageRef },
  target: MachineRegion,
  log: (text: string) => void,
  signal: AbortSignal,
): Promise<MachineDistribution> {
  const at = target.index === undefined ? 'distribution' : `distributions[${target.index}]`;
  const { region, distribution: d } = target;
  if (!deps.regions.includes(region)) throw new KilnError('InvalidArgument', `${at}.region: ${region} is not a region this Kiln serves (${deps.regions.join(', ')})`);
  const date = new Date(String(image.data.dateCreated ?? new Date().toISOString()));
  const out: MachineDistribution = { amis: [], exports: [] };
  const ami = (d.amiDistributionConfiguration ?? {}) as Obj;
  const name = renderNameTemplate(typeof ami.name === 'string' ? ami.name : `${image.name} {{ imagebuilder:buildDate }}`, date, image.build);
  const accounts = [image.accountId, ...((ami.targetAccountIds as string[] | undefined) ?? []).filter((a) => a !== image.accountId)];
  const launch = (ami.launchPermission ?? {}) as { userIds?: string[]; userGroups?: string[] };
  const description = typeof ami.description === 'string' ? { description: ami.description } : {};
  let first: string | undefined;
  for (const accountId of accounts) {
    if (signal.aborted) throw new KilnError('Cancelled', 'distribution was cancelled');
    const existing = (await deps.store.listResources({ accountId, region, type: MACHINE_IMAGE_TYPE })).find((r) => {
      const m = machineImageData(r);
      return m.sourceImageArn === image.arn && m.name === name;
    });
    const record =
      existing ??
      (await registerMachineImage(deps.store, {
        accountId,
        region,
        name,
        ...description,
        tags: (ami.amiTags as Record<string, string> | undefined) ?? {},
        sourceImageArn: image.arn,
        disk: built.disk,
        ...(built.rootfs ? { rootfs: built.rootfs } : {}),
        launchPermission: launch,
      }).catch((err: unknown) => {
        throw new KilnError('InvalidArgument', `${at}.amiDistributionConfiguration: ${errorMessage(err)}`, [], { cause: err });
      }));
    const amiId = machineImageData(record).amiId;
    first ??= amiId;
    const grants = [...(launch.userIds ?? []), ...(launch.userGroups ?? [])];
    log(`${existing ? 'kept' : 'registered'} ${amiId} "${name}" in ${region} for account ${accountId}${grants.length > 0 ? ` (launch permission: ${grants.join(', ')})` : ''}\n`);
    out.amis.push({ region, image: amiId, name, ...description, state: { status: 'AVAILABLE' }, accountId });
  }
  const s3 = d.s3ExportConfiguration as Obj | undefined;
  if (s3) {
    const bucket = String(s3.s3Bucket ?? '');
    const dir = deps.exportBuckets[bucket];
    const upload = dir === undefined && deps.workRoot !== undefined ? deps.exportUpload : undefined;
    if (!dir && !upload) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.s3Bucket: no bucket "${bucket}" in Kiln's configuration (exportBuckets), and no objectStore to export to`);
    const format = EXPORT_FORMATS[String(s3.diskImageFormat)];
    if (!format) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.diskImageFormat: must be RAW, VMDK or VHD`);
    const prefix = String(s3.s3Prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (prefix.split('/').includes('..')) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.s3Prefix: must not contain ..`);
    const key = [prefix, `${first}.${format}`].filter(Boolean).join('/');
    // An upload is converted in the scratch folder first: S3 objects are written whole, not seeked into.
    const file = dir ? path.join(dir, key) : path.join(deps.workRoot!, `export-${first}-${Date.now()}.${format}`);
    const t0 = Date.now();
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      const lease = await deps.disks.acquire(built.disk.digest, signal);
      try {
        await convertDisk(lease.path, file, format, signal);
      } finally {
        lease.release();
      }
      if (upload) await upload(bucket, key, file, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new KilnError('Internal', `${at}.s3ExportConfiguration: exporting to s3://${bucket}/${key} failed: ${errorMessage(err)}`, [], { cause: err });
    } finally {
      if (upload) await fsp.rm(file, { force: true });
    }
    log(`exported ${format.toUpperCase()} to s3://${bucket}/${key}${dir ? ` (${file})` : ''} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    out.exports.push({ region, format: String(s3.diskImageFormat), bucket, key, path: dir ? file : `s3://${bucket}/${key}` });
  }
  return out;
}
