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
import { ensureManagedRecord } from '../../resources/managed-records.js';
import { bootstrapDebianBase, type DebianBaseSpec } from './debian-base.js';
import { customizeMachineRoot, MACHINE_BASE_PACKAGES } from './machine-root.js';
import { DEFAULT_ROOT_PART_UUID } from '../../artifacts/disk/assemble.js';
import { patchImage, type ContainerImageRef } from '../stages/image-record.js';
import { MEDIA_TYPE_MANIFEST } from '../../artifacts/oci/image.js';
import type { OutputSink } from '../../logs/line-assembler.js';
import { BaseProgress, describeStatus, type BaseStatus } from './base-progress.js';

/** The Debian 12 minbase container base, slim as Docker's debian:bookworm-slim (lean-rootfs.ts). */
export const DEBIAN_CONTAINER_BASE = 'debian-12-container-x86';
/** The Debian 12 machine base: minbase with a kernel, systemd, the guest agent and DHCP (machine-root.ts). */
export const DEBIAN_MACHINE_BASE = 'debian-12-x86';

/** What `debian-12-container-x86` is bootstrapped from; benches and tests that want the same base use it too. */
export function containerBaseSpec(mirror: string): DebianBaseSpec {
  return { suite: 'bookworm', variant: 'minbase', mirror, arch: 'amd64', lean: 'container' };
}

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
      // Versioned by the date it was first made: any stored version is the base.
      await ensureManagedRecord(
        store,
        {
          region,
          type: 'image',
          name: base.name,
          version: dateVersion(now),
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
        },
        { anyVersion: true },
      );
    }
  }
}

export interface ManagedBaseOptions {
  store: Store;
  blobs: BlobStore;
  mirror: string;
  /** Scratch space for bootstraps (one folder each, removed afterwards). */
  workRoot: string;
  /** The regions whose managed bases `status` and `prepareAll` cover (default: none). */
  regions?: readonly string[];
  /** Progress lines for the server log (a phase change, the end, a failure). */
  log?: (text: string) => void;
  /** The bootstrap itself (default: mmdebstrap, debian-base.ts); tests put a controllable one in. */
  bootstrap?: typeof bootstrapDebianBase;
}

/** One bootstrap in flight, shared by everyone waiting for the same base. */
interface Preparation {
  promise: Promise<ContainerImageRef>;
  /** Aborted when the last waiter gave up, or when the owner stops. */
  controller: AbortController;
  waiters: number;
  sinks: Set<OutputSink>;
  progress: BaseProgress;
}

/**
 * Materialises managed bases on demand or ahead of time (prepareAll); whoever asks for a base being prepared
 * waits for the same bootstrap. A bootstrap stops when everyone waiting for it has given up, or on stop().
 */
export class ManagedBases {
  private readonly inFlight = new Map<string, Preparation>();
  private readonly failures = new Map<string, string>();
  private prefetch: Promise<void> | undefined;
  private readonly stopping = new AbortController();

  constructor(private readonly options: ManagedBaseOptions) {}

  /** True for a record this class manages. */
  static isManaged(record: ResourceRecord): boolean {
    return record.accountId === KILN_MANAGED_OWNER && typeof record.data.managedBase === 'object' && record.data.managedBase !== null;
  }

  /** The stored OCI image of a managed base, bootstrapping it the first time. */
  async image(record: ResourceRecord, signal?: AbortSignal, onOutput?: OutputSink): Promise<ContainerImageRef> {
    const stored = await this.storedRootfs(record);
    if (stored) return stored;
    if (this.stopping.signal.aborted) throw new KilnError('Cancelled', 'Kiln is stopping');
    if (signal?.aborted) throw new KilnError('Cancelled', 'managed base preparation cancelled');
    let run = this.inFlight.get(record.arn);
    if (run && onOutput) onOutput(`waiting for ${record.name}, being prepared already: ${run.progress.phase} (${run.progress.percent}%)\n`);
    if (!run) {
      const controller = new AbortController();
      const stop = () => controller.abort();
      this.stopping.signal.addEventListener('abort', stop, { once: true });
      const started = new Date();
      const progress = new BaseProgress(started, lastDurationOf(record));
      const sinks = new Set<OutputSink>();
      const fanOut: OutputSink = (text, stream) => {
        for (const sink of sinks) sink(text, stream);
        if (progress.feed(text)) this.options.log?.(`managed base ${describeStatus(this.statusOf(record))}\n`);
      };
      this.failures.delete(record.arn);
      this.options.log?.(`managed base ${record.name}: preparing\n`);
      const promise = this.bootstrap(record, controller.signal, fanOut, started).then(
        (ref) => {
          this.options.log?.(`managed base ${record.name}: ready in ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s\n`);
          return ref;
        },
        (err: unknown) => {
          // Given up by everyone waiting, or stopped: nothing failed, the base is simply not there yet.
          if (controller.signal.aborted) throw err;
          const reason = err instanceof Error ? err.message : String(err);
          this.failures.set(record.arn, reason);
          this.options.log?.(`managed base ${record.name}: failed: ${reason}\n`);
          throw err;
        },
      ).finally(() => {
        this.inFlight.delete(record.arn);
        this.stopping.signal.removeEventListener('abort', stop);
      });
      run = { promise, controller, waiters: 0, sinks, progress };
      this.inFlight.set(record.arn, run);
    }
    return this.wait(run, signal, onOutput);
  }

  /**
   * The stored image of a base, if any. The record given may predate a preparation that finished since (a build
   * read it while the prefetch ran), so the store's current record is asked too, lest a second bootstrap start.
   */
  private async storedRootfs(record: ResourceRecord): Promise<ContainerImageRef | undefined> {
    for (const r of [record, await this.options.store.getResource(record.arn)]) {
      const stored = r && rootfsOf(r);
      if (stored && (await this.options.blobs.has(stored.manifestDigest))) return stored;
    }
    return undefined;
  }

  /** Waits for a shared preparation; a waiter that aborts stops waiting, and the last one stops the bootstrap. */
  private async wait(run: Preparation, signal: AbortSignal | undefined, onOutput: OutputSink | undefined): Promise<ContainerImageRef> {
    if (signal?.aborted) throw new KilnError('Cancelled', 'managed base preparation cancelled');
    run.waiters++;
    if (onOutput) run.sinks.add(onOutput);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new KilnError('Cancelled', 'managed base preparation cancelled'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    // The waiter's own rejection must not go unhandled when the bootstrap wins the race.
    aborted.catch(() => undefined);
    try {
      return await Promise.race([run.promise, aborted]);
    } finally {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      if (onOutput) run.sinks.delete(onOutput);
      if (--run.waiters === 0) run.controller.abort();
    }
  }

  /** The managed bases of the configured regions and where each is. */
  async status(): Promise<BaseStatus[]> {
    const out: BaseStatus[] = [];
    for (const record of await this.records()) out.push(await this.statusNow(record));
    return out;
  }

  private async statusNow(record: ResourceRecord): Promise<BaseStatus> {
    const status = this.statusOf(record);
    if (status.state === 'preparing') return status;
    return (await this.storedRootfs(record)) ? { ...status, state: 'ready' } : status;
  }

  private statusOf(record: ResourceRecord): BaseStatus {
    const base = record.data.managedBase as { kind?: string };
    const last = lastDurationOf(record);
    const status: BaseStatus = { name: record.name, arn: record.arn, region: record.region, kind: base.kind === 'machine' ? 'machine' : 'container', state: 'absent', ...(last === undefined ? {} : { lastDurationSeconds: last }) };
    const run = this.inFlight.get(record.arn);
    if (run) {
      const left = run.progress.secondsLeft();
      return { ...status, state: 'preparing', phase: run.progress.phase, percent: run.progress.percent, startedAt: run.progress.startedAt.toISOString(), ...(left === undefined ? {} : { secondsLeft: left }) };
    }
    const reason = this.failures.get(record.arn);
    return reason === undefined ? status : { ...status, state: 'failed', reason };
  }

  private async records(): Promise<ResourceRecord[]> {
    const out: ResourceRecord[] = [];
    for (const region of this.options.regions ?? []) {
      const found = (await this.options.store.listResources({ accountId: KILN_MANAGED_OWNER, region, type: 'image' })).filter((r) => ManagedBases.isManaged(r));
      // Container base first: it is the smaller one, and the one the first build most likely needs.
      found.sort((a, b) => Number(a.data.type === 'AMI') - Number(b.data.type === 'AMI') || a.name.localeCompare(b.name));
      out.push(...found);
    }
    return out;
  }

  /**
   * Prepares every managed base that is not stored yet, one after the other, in the background of whoever calls
   * it: a second call while one runs joins it. Failures are kept for `status`; `signal` (or stop()) ends it.
   */
  prepareAll(signal?: AbortSignal): Promise<void> {
    if (!this.prefetch) {
      this.prefetch = (async () => {
        for (const record of await this.records()) {
          if (signal?.aborted || this.stopping.signal.aborted) return;
          // A failure is kept for status and logged; the next base is still worth preparing.
          await this.image(record, signal).catch(() => undefined);
        }
      })().finally(() => {
        this.prefetch = undefined;
      });
    }
    return this.prefetch;
  }

  /** Stops every bootstrap in flight and waits until each has cleaned up (no mount, no scratch folder left). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight.values()].map((r) => r.promise));
    await this.prefetch?.catch(() => undefined);
  }

  private async bootstrap(record: ResourceRecord, signal: AbortSignal, onOutput: OutputSink, started: Date): Promise<ContainerImageRef> {
    const base = record.data.managedBase as { suite?: string; variant?: string; kind?: string };
    if (base.suite !== 'bookworm' || base.variant !== 'minbase') throw new KilnError('Internal', `unknown managed base ${record.arn}`);
    const reused = await this.fromOtherRegion(record);
    if (reused) return reused;
    const machine = base.kind === 'machine';
    await mkdir(this.options.workRoot, { recursive: true, mode: 0o700 });
    onOutput(`bootstrapping ${record.name} from ${this.options.mirror} (first use; cached afterwards)\n`);
    const out = await (this.options.bootstrap ?? bootstrapDebianBase)(
      // A booting machine keeps its documentation; a container base is as lean as Docker's debian:*-slim.
      machine
        ? { ...containerBaseSpec(this.options.mirror), includes: MACHINE_BASE_PACKAGES, lean: 'machine', customize: (rootfs: string) => customizeMachineRoot(rootfs, DEFAULT_ROOT_PART_UUID) }
        : containerBaseSpec(this.options.mirror),
      {
        blobs: this.options.blobs,
        workDir: path.join(this.options.workRoot, `bootstrap-${record.name}`),
        // A machine base's root filesystem is never pulled by a container runtime, so the faster zstd is safe.
        ...(machine ? { compression: 'zstd' as const } : {}),
        signal,
        onOutput,
      },
    );
    const ref: ContainerImageRef = { manifestDigest: out.image.manifestDigest, mediaType: MEDIA_TYPE_MANIFEST, configDigest: out.image.configDigest };
    const seconds = Math.round((Date.now() - started.getTime()) / 1000);
    await patchImage(this.options.store, record.arn, { ...rootfsPatch(record, ref), packages: out.packages, managedBase: { ...(record.data.managedBase as object), preparationSeconds: seconds } });
    return ref;
  }

  /** The same base already stored for another region: the blobs are shared, so only the record is filled in. */
  private async fromOtherRegion(record: ResourceRecord): Promise<ContainerImageRef | undefined> {
    for (const region of this.options.regions ?? []) {
      if (region === record.region) continue;
      const [other] = await this.options.store.listResources({ accountId: KILN_MANAGED_OWNER, region, type: 'image', name: record.name });
      const ref = other && rootfsOf(other);
      if (!other || !ref || !(await this.options.blobs.has(ref.manifestDigest))) continue;
      await patchImage(this.options.store, record.arn, { ...rootfsPatch(record, ref), packages: other.data.packages, managedBase: other.data.managedBase });
      return ref;
    }
    return undefined;
  }
}

/** How long the base's last preparation took, kept on its record. */
function lastDurationOf(record: ResourceRecord): number | undefined {
  const seconds = (record.data.managedBase as { preparationSeconds?: unknown } | undefined)?.preparationSeconds;
  return typeof seconds === 'number' ? seconds : undefined;
}
