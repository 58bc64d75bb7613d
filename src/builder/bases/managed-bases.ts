/**
 * Kiln-managed parent images (AWS's `arn:aws:imagebuilder:<region>:aws:image/…` bases). Each is listed from the
 * start, owned by `aws` (ListImages `owner: Amazon`), and bootstrapped from the configured Debian mirror on
 * first use only: the record then points at the stored OCI image, so later builds reuse it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { KilnError } from '../../domain/errors.js';
import type { BlobStore } from '../../artifacts/blob-store.js';
import type { ResourceRecord, Store } from '../../store/store.js';
import { KILN_MANAGED_OWNER } from '../../store/visibility.js';
import { versionedArn } from '../../store/versioned.js';
import { bootstrapDebianBase } from './debian-base.js';
import { customizeMachineRoot, MACHINE_BASE_PACKAGES } from './machine-root.js';
import { DEFAULT_ROOT_PART_UUID } from '../../artifacts/disk/assemble.js';
import { patchImage, type ContainerImageRef } from '../stages/image-record.js';
import { MEDIA_TYPE_MANIFEST } from '../../artifacts/oci/image.js';
import type { OutputSink } from '../../logs/line-assembler.js';

/** The Debian 12 minbase container base. */
export const DEBIAN_CONTAINER_BASE = 'debian-12-container-x86';
/** The Debian 12 machine base: minbase with a kernel, systemd, the guest agent and DHCP (machine-root.ts). */
export const DEBIAN_MACHINE_BASE = 'debian-12-x86';

/** The managed bases and what each record says about itself. */
const MANAGED_BASES = [
  { name: DEBIAN_CONTAINER_BASE, type: 'DOCKER', kind: 'container', outputResources: { containers: [] } },
  { name: DEBIAN_MACHINE_BASE, type: 'AMI', kind: 'machine', outputResources: { amis: [] } },
] as const;

/** Where an image record keeps the OCI image of its root filesystem: container images and machine images differ. */
export function rootfsOf(record: ResourceRecord): ContainerImageRef | undefined {
  if (record.data.type === 'AMI') return (record.data.machine as { rootfs?: ContainerImageRef } | undefined)?.rootfs;
  return record.data.containerImage as ContainerImageRef | undefined;
}

function rootfsPatch(record: ResourceRecord, ref: ContainerImageRef): Record<string, unknown> {
  if (record.data.type === 'AMI') return { machine: { ...((record.data.machine as object | undefined) ?? {}), rootfs: ref } };
  return { containerImage: ref };
}

/** A version from a date, as AWS versions its managed images by release date: 2026.11.27. */
export function dateVersion(date: Date): string {
  return `${date.getUTCFullYear()}.${date.getUTCMonth() + 1}.${date.getUTCDate()}`;
}

/** Makes sure every region lists the managed bases; an existing version is kept. */
export async function registerManagedBases(store: Store, regions: readonly string[], now = new Date()): Promise<void> {
  for (const region of regions) {
    for (const base of MANAGED_BASES) {
      const existing = await store.listResources({ accountId: KILN_MANAGED_OWNER, region, type: 'image', name: base.name });
      if (existing.length > 0) continue;
      const version = dateVersion(now);
      await store
        .createResource({
          accountId: KILN_MANAGED_OWNER,
          region,
          type: 'image',
          name: base.name,
          version,
          arn: versionedArn(region, KILN_MANAGED_OWNER, 'image', base.name, version),
          build: 'first',
          data: {
            name: base.name,
            type: base.type,
            platform: 'Linux',
            osVersion: 'Debian 12',
            state: { status: 'AVAILABLE' },
            infrastructureConfiguration: {},
            buildType: 'IMPORT',
            imageSource: 'AMAZON_MANAGED',
            dateCreated: now.toISOString(),
            managedBase: { distribution: 'debian', suite: 'bookworm', variant: 'minbase', arch: 'amd64', kind: base.kind },
            outputResources: base.outputResources,
          },
        })
        .catch((err: unknown) => {
          // Another Kiln process on the same store registered it first.
          if (!(err instanceof KilnError && err.kind === 'AlreadyExists')) throw err;
        });
    }
  }
}

export interface ManagedBaseOptions {
  store: Store;
  blobs: BlobStore;
  mirror: string;
  /** Scratch space for bootstraps (one folder each, removed afterwards). */
  workRoot: string;
}

/** Materialises managed bases on demand; concurrent builds of the same base share one bootstrap. */
export class ManagedBases {
  private readonly inFlight = new Map<string, Promise<ContainerImageRef>>();

  constructor(private readonly options: ManagedBaseOptions) {}

  /** True for a record this class manages. */
  static isManaged(record: ResourceRecord): boolean {
    return record.accountId === KILN_MANAGED_OWNER && typeof record.data.managedBase === 'object' && record.data.managedBase !== null;
  }

  /** The stored OCI image of a managed base, bootstrapping it the first time. */
  async image(record: ResourceRecord, signal?: AbortSignal, onOutput?: OutputSink): Promise<ContainerImageRef> {
    const stored = rootfsOf(record);
    if (stored && (await this.options.blobs.has(stored.manifestDigest))) return stored;
    let run = this.inFlight.get(record.arn);
    if (!run) {
      run = this.bootstrap(record, signal, onOutput).finally(() => this.inFlight.delete(record.arn));
      this.inFlight.set(record.arn, run);
    }
    return run;
  }

  private async bootstrap(record: ResourceRecord, signal?: AbortSignal, onOutput?: OutputSink): Promise<ContainerImageRef> {
    const base = record.data.managedBase as { suite?: string; variant?: string; kind?: string };
    if (base.suite !== 'bookworm' || base.variant !== 'minbase') throw new KilnError('Internal', `unknown managed base ${record.arn}`);
    const machine = base.kind === 'machine';
    await mkdir(this.options.workRoot, { recursive: true, mode: 0o700 });
    onOutput?.(`bootstrapping ${record.name} from ${this.options.mirror} (first use; cached afterwards)\n`);
    const out = await bootstrapDebianBase(
      {
        suite: 'bookworm',
        variant: 'minbase',
        mirror: this.options.mirror,
        arch: 'amd64',
        ...(machine ? { includes: MACHINE_BASE_PACKAGES, customize: (rootfs: string) => customizeMachineRoot(rootfs, DEFAULT_ROOT_PART_UUID) } : {}),
      },
      {
        blobs: this.options.blobs,
        workDir: path.join(this.options.workRoot, `bootstrap-${record.name}`),
        // A machine base's root filesystem is never pulled by a container runtime, so the faster zstd is safe.
        ...(machine ? { compression: 'zstd' as const } : {}),
        ...(signal ? { signal } : {}),
        ...(onOutput ? { onOutput } : {}),
      },
    );
    const ref: ContainerImageRef = { manifestDigest: out.image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: out.image.configDigest };
    await patchImage(this.options.store, record.arn, { ...rootfsPatch(record, ref), packages: out.packages });
    return ref;
  }
}
