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
import { KILN_MANAGED_OWNER } from '../../service/visibility.js';
import { versionedArn } from '../../service/versioned.js';
import { bootstrapDebianBase } from '../bases/debian-base.js';
import { patchImage, type ContainerImageRef } from './image-record.js';
import { MEDIA_TYPE_MANIFEST } from '../../artifacts/oci/image.js';

/** The Debian 12 minbase container base. */
export const DEBIAN_CONTAINER_BASE = 'debian-12-container-x86';

/** A version from a date, as AWS versions its managed images by release date: 2026.11.27. */
export function dateVersion(date: Date): string {
  return `${date.getUTCFullYear()}.${date.getUTCMonth() + 1}.${date.getUTCDate()}`;
}

/** Makes sure every region lists the managed bases; an existing version is kept. */
export async function registerManagedBases(store: Store, regions: readonly string[], now = new Date()): Promise<void> {
  for (const region of regions) {
    const existing = await store.listResources({ accountId: KILN_MANAGED_OWNER, region, type: 'image', name: DEBIAN_CONTAINER_BASE });
    if (existing.length > 0) continue;
    const version = dateVersion(now);
    await store
      .createResource({
        accountId: KILN_MANAGED_OWNER,
        region,
        type: 'image',
        name: DEBIAN_CONTAINER_BASE,
        version,
        arn: versionedArn(region, KILN_MANAGED_OWNER, 'image', DEBIAN_CONTAINER_BASE, version),
        build: 'first',
        data: {
          name: DEBIAN_CONTAINER_BASE,
          type: 'DOCKER',
          platform: 'Linux',
          osVersion: 'Debian 12',
          state: { status: 'AVAILABLE' },
          infrastructureConfiguration: {},
          buildType: 'IMPORT',
          imageSource: 'AMAZON_MANAGED',
          dateCreated: now.toISOString(),
          managedBase: { distribution: 'debian', suite: 'bookworm', variant: 'minbase', arch: 'amd64' },
          outputResources: { containers: [] },
        },
      })
      .catch((err: unknown) => {
        // Another Kiln process on the same store registered it first.
        if (!(err instanceof KilnError && err.kind === 'AlreadyExists')) throw err;
      });
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
  async image(record: ResourceRecord, signal?: AbortSignal, onOutput?: (text: string) => void): Promise<ContainerImageRef> {
    const stored = record.data.containerImage as ContainerImageRef | undefined;
    if (stored && (await this.options.blobs.has(stored.manifestDigest))) return stored;
    let run = this.inFlight.get(record.arn);
    if (!run) {
      run = this.bootstrap(record, signal, onOutput).finally(() => this.inFlight.delete(record.arn));
      this.inFlight.set(record.arn, run);
    }
    return run;
  }

  private async bootstrap(record: ResourceRecord, signal?: AbortSignal, onOutput?: (text: string) => void): Promise<ContainerImageRef> {
    const base = record.data.managedBase as { suite?: string; variant?: string };
    if (base.suite !== 'bookworm' || base.variant !== 'minbase') throw new KilnError('Internal', `unknown managed base ${record.arn}`);
    await mkdir(this.options.workRoot, { recursive: true, mode: 0o700 });
    onOutput?.(`bootstrapping ${record.name} from ${this.options.mirror} (first use; cached afterwards)\n`);
    const out = await bootstrapDebianBase(
      { suite: 'bookworm', variant: 'minbase', mirror: this.options.mirror, arch: 'amd64' },
      { blobs: this.options.blobs, workDir: path.join(this.options.workRoot, `bootstrap-${record.name}`), ...(signal ? { signal } : {}), ...(onOutput ? { onOutput } : {}) },
    );
    const ref: ContainerImageRef = { manifestDigest: out.image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: out.image.configDigest };
    await patchImage(this.options.store, record.arn, { containerImage: ref, packages: out.packages });
    return ref;
  }
}
