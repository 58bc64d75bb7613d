/**
 * Distribution of a built machine image, as the distribution configuration says: a machine image registered in
 * each listed region for the building account and each of `targetAccountIds`, named from the template, tagged,
 * with its launch permissions; and the disk exported where `s3ExportConfiguration` asks.
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { convertDisk, type DiskFormat } from '../../artifacts/disk/convert.js';
import type { DiskStore } from '../../artifacts/disk/disk-store.js';
import { KilnError } from '../../domain/errors.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import type { ContainerImageRef } from './image-record.js';
import type { MachineDisk } from './machine-disk.js';
import { machineImageData, registerMachineImage } from './machine-images.js';

type Obj = Record<string, unknown>;

/** outputResources.amis entries and the files exported. */
export interface MachineDistribution {
  amis: { region: string; image: string; name: string; description?: string; state: { status: 'AVAILABLE' }; accountId: string }[];
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
  regions: readonly string[];
}

/** Registers and exports the built disk; throws InvalidArgument naming the field at fault. */
export async function distributeMachineImage(
  deps: DistributionDeps,
  image: ResourceRecord,
  built: { disk: MachineDisk; rootfs?: ContainerImageRef },
  log: (text: string) => void,
  signal: AbortSignal,
): Promise<MachineDistribution> {
  const config = (image.data.distributionConfiguration ?? {}) as Obj;
  const given = Array.isArray(config.distributions) ? (config.distributions as Obj[]) : [];
  const distributions: Obj[] = given.length > 0 ? given : [{ region: image.region }];
  const date = new Date(String(image.data.dateCreated ?? new Date().toISOString()));
  const out: MachineDistribution = { amis: [], exports: [] };
  for (const [i, d] of distributions.entries()) {
    const at = `distributions[${i}]`;
    const region = String(d.region ?? image.region);
    if (!deps.regions.includes(region)) throw new KilnError('InvalidArgument', `${at}.region: ${region} is not a region this Kiln serves (${deps.regions.join(', ')})`);
    const ami = (d.amiDistributionConfiguration ?? {}) as Obj;
    const name = renderNameTemplate(typeof ami.name === 'string' ? ami.name : `${image.name} {{ imagebuilder:buildDate }}`, date, image.build);
    const accounts = [image.accountId, ...((ami.targetAccountIds as string[] | undefined) ?? []).filter((a) => a !== image.accountId)];
    const launch = (ami.launchPermission ?? {}) as { userIds?: string[]; userGroups?: string[] };
    let first: string | undefined;
    for (const accountId of accounts) {
      const record = await registerMachineImage(deps.store, {
        accountId,
        region,
        name,
        ...(typeof ami.description === 'string' ? { description: ami.description } : {}),
        tags: (ami.amiTags as Record<string, string> | undefined) ?? {},
        sourceImageArn: image.arn,
        disk: built.disk,
        ...(built.rootfs ? { rootfs: built.rootfs } : {}),
        launchPermission: launch,
      });
      const amiId = machineImageData(record).amiId;
      first ??= amiId;
      log(`registered ${amiId} "${name}" in ${region} for account ${accountId}${launch.userIds?.length || launch.userGroups?.length ? ` (launch permission: ${[...(launch.userIds ?? []), ...(launch.userGroups ?? [])].join(', ')})` : ''}\n`);
      out.amis.push({ region, image: amiId, name, ...(typeof ami.description === 'string' ? { description: ami.description } : {}), state: { status: 'AVAILABLE' }, accountId });
    }
    const s3 = d.s3ExportConfiguration as Obj | undefined;
    if (s3) {
      const bucket = String(s3.s3Bucket ?? '');
      const dir = deps.exportBuckets[bucket];
      if (!dir) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.s3Bucket: no bucket "${bucket}" in Kiln's configuration (exportBuckets)`);
      const format = EXPORT_FORMATS[String(s3.diskImageFormat)];
      if (!format) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.diskImageFormat: must be RAW, VMDK or VHD`);
      const prefix = String(s3.s3Prefix ?? '').replace(/^\/+|\/+$/g, '');
      if (prefix.split('/').includes('..')) throw new KilnError('InvalidArgument', `${at}.s3ExportConfiguration.s3Prefix: must not contain ..`);
      const key = [prefix, `${first}.${format}`].filter(Boolean).join('/');
      const file = path.join(dir, key);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      const t0 = Date.now();
      await convertDisk(deps.disks.path(built.disk.digest), file, format, signal);
      log(`exported ${format.toUpperCase()} to s3://${bucket}/${key} (${file}) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      out.exports.push({ region, format: String(s3.diskImageFormat), bucket, key, path: file });
    }
  }
  return out;
}
