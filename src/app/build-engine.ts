/**
 * Composition of the build side of `kiln serve`: blob store, layer cache, registry (built-in and client),
 * managed bases, the ns driver and the build worker, with the data directory's layout:
 *   blobs/    content-addressed blobs (layers, configs, manifests)
 *   layers/   unpacked layers, each once, as overlay lower dirs
 *   scratch/  instance folders (upper layers); swept at start-up
 *   logs/     per-image step logs (in the bucket with objectStore:, app/shared-objects.ts) and AWSTOE log folders
 *   disks/    machine-image disks, content-addressed raw files (with objectStore: this node's cache of the bucket's)
 *   work/     bootstraps, disk assembly, VM overlays and other temporary work
 */
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { KilnError } from '../domain/errors.js';
import { FsBlobStore, type BlobStore } from '../artifacts/blob-store.js';
import { S3BlobStore } from '../artifacts/s3/s3-blob-store.js';
import { createS3Client } from '../toe/actions/s3-config.js';
import { openDiskStore } from './disk-store-open.js';
import { detectAccel } from '../drivers/vm/accel.js';
import { killQemuUnder } from '../drivers/vm/vm-sweep.js';
import { randomBytes } from 'node:crypto';
import { convertDisk, type DiskFormat } from '../artifacts/disk/convert.js';
import { registerMachineImageRoutes } from '../api/kiln/machine-images-route.js';
import { registerImageVerifyRoute } from '../api/kiln/image-verify-route.js';
import { imageVerification } from '../builder/stages/container-verify.js';
import { registerImageImportRoutes } from '../api/kiln/image-import-route.js';
import { registerImageSbomRoute } from '../api/kiln/image-sbom-route.js';
import { launchMachineInstance } from '../builder/stages/instance-launcher.js';
import { parentDisk } from '../builder/machine/machine-instances.js';
import { listUsableMachineImages } from '../builder/machine/machine-images.js';
import { importTaskView, importUploadedDisk, listImportTasks } from '../builder/machine/import-tasks.js';
import { resolveMachineRef } from '../builder/machine/machine-parent.js';
import { LayerCache } from '../artifacts/oci/unpack.js';
import type { AccessKeySecret } from '../api/aws/sigv4.js';
import { registerLogRoutes } from '../api/kiln/logs-route.js';
import { registerBasesRoutes } from '../api/kiln/bases-route.js';
import { registerInstanceRoutes } from '../api/kiln/instances-route.js';
import type { InstanceCluster } from '../api/kiln/instance-forwarding.js';
import { ExecutionRecorder } from '../builder/records/execution-records.js';
import { BuildWorker } from '../builder/build-worker.js';
import { startLifecycleRunner, type LifecycleRunner, type LifecycleRunnerDeps } from '../lifecycle/runner.js';
import { collectLocalLayers } from '../lifecycle/gc.js';
import { systemClock, type Clock } from '../domain/clock.js';
import type { BuildServices } from '../builder/container/container-build.js';
import type { VulnerabilitySource } from '../builder/stages/image-scan.js';
import { KeptInstances } from '../builder/stages/kept-instances.js';
import { ManagedBases, registerManagedBases } from '../builder/bases/managed-bases.js';
import { registerManagedWorkflows } from '../service/workflows.js';
import { registerManagedComponents } from '../service/components.js';
import { RegistryDistributor, RegistryParents } from '../builder/stages/registry-glue.js';
import { NsDriver } from '../drivers/ns/ns-driver.js';
import { sweepNsLeftovers } from '../drivers/ns/sweep.js';
import { mountsUnder, umountLazy } from '../drivers/ns/host-mounts.js';
import { RegistryClient } from '../registry/client/registry-client.js';
import { createBuiltinRegistry } from '../registry/server/builtin-registry.js';
import { registerRegistry } from '../registry/server/routes.js';
import type { OperationHandler } from '../service/types.js';
import type { ImageOutputPort } from '../service/image-deletion.js';
import type { Store } from '../store/store.js';
import { actionModules } from '../toe/actions/registry.js';
import { DEFAULT_BUILD_CACHE_GIB, type ServerConfig } from './server-config.js';
import type { KilnMetrics } from '../metrics/kiln-metrics.js';
import type { ParentTagResolver } from '../pipelines/dependency-resolver.js';
import { parentTagResolver } from '../pipelines/parent-tags.js';
import { openExportUploads, openSharedObjects } from './shared-objects.js';
import { dataDirInUse, dataDirLockHolder, lockDataDir } from './data-dir-lock.js';

export interface BuildEngine {
  services: BuildServices;
  worker: BuildWorker | undefined;
  /** Mounts the registry at /v2/, the step-log route and the kept-instance routes. */
  registerRoutes(app: FastifyInstance, auth: { lookupKey: (id: string) => Promise<AccessKeySecret | undefined>; regions: ReadonlySet<string>; instances?: InstanceCluster }): void;
  /** The same handlers, with the operations that queue builds waking the worker instead of leaving it to its poll. */
  wakeOnQueued(handlers: Record<string, OperationHandler>): Record<string, OperationHandler>;
  /** Recovers from an earlier process and starts leasing build jobs, as `owner` (the node id) when given. */
  startWorker(options?: { owner?: string }): Promise<void>;
  /**
   * Starts the lifecycle runner (the scheduler role's): policies daily, StartResourceStateUpdate executions when
   * due, garbage collection after deletions; it schedules only while it holds the cluster's leadership.
   */
  startLifecycle(options: Pick<LifecycleRunnerDeps, 'owner' | 'leadership' | 'onTick'>): Promise<void>;
  /** What a parent image's registry reference points at now (for the scheduler's start condition). */
  resolveParentTag: ParentTagResolver;
  /** The managed bases: where each is, and preparing them ahead of the first build that needs them. */
  bases: ManagedBases;
  /** What DeleteImage needs to free an image's registry tags, machine images and, by collecting, its blobs and disks. */
  imageOutputs: ImageOutputPort;
  /** Prepares the managed bases not stored yet, in the background, once the worker runs (a server without builds prepares none). */
  prefetchBases(): void;
  /** Stops the worker (running builds end FAILED "interrupted"), releases kept instances and stops base preparations. */
  stop(): Promise<void>;
}

/**
 * Empties the work folder a killed Kiln left: QEMU processes of its VMs run in their own process groups and a
 * bootstrap's tmpfs or a disk assembly's overlay is mounted on the host, so they outlive Kiln; nothing in the
 * folder is in use before the worker starts.
 */
async function releaseWorkDir(workRoot: string): Promise<string[]> {
  const released: string[] = (await killQemuUnder(workRoot)).map((pid) => `QEMU process ${pid}`);
  for (const point of mountsUnder(workRoot)) {
    await umountLazy(point);
    released.push(`mount ${point}`);
  }
  for (const entry of await readdir(workRoot)) {
    await rm(path.join(workRoot, entry), { recursive: true, force: true });
    released.push(`directory ${path.join(workRoot, entry)}`);
  }
  return released;
}

/** How often a worker sweeps its unpacked layers, and how old an unneeded one must be to go (the collection's grace). */
const LAYER_SWEEP_EVERY_MS = 10 * 60_000;
const LAYER_SWEEP_GRACE_MS = 60 * 60_000;

/** Writes a machine image the caller may launch as `format` into the work folder (raw: the stored disk itself). */
export async function exportMachineDisk(services: BuildServices, who: { accountId: string; region: string }, image: string, format: DiskFormat, signal: AbortSignal): Promise<{ path: string; release: () => Promise<void> }> {
  const machine = services.machine!;
  const name = `export-${randomBytes(4).toString('hex')}`;
  const parent = await resolveMachineRef(services.store, { ...who, arn: name }, image, machine.managedRootfs, signal, () => undefined, 'image');
  const disk = await parentDisk(services, machine, parent, name, signal, () => undefined);
  const lease = await machine.disks.acquire(disk.digest, signal);
  if (format === 'raw') return { path: lease.path, release: async () => lease.release() };
  const out = path.join(machine.workRoot, `${name}.${format}`);
  try {
    await convertDisk(lease.path, out, format, signal);
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  } finally {
    lease.release();
  }
  return { path: out, release: () => rm(out, { force: true }) };
}

/** The blob store the configuration names: the data directory's `blobs/`, or an S3-compatible bucket. */
async function openBlobStore(config: ServerConfig, dir: (name: string) => string): Promise<BlobStore> {
  if (config.objectStore) {
    const { bucket, prefix, ...settings } = config.objectStore;
    return new S3BlobStore({ client: await createS3Client(settings), bucket, ...(prefix === undefined ? {} : { prefix }) });
  }
  const blobs = new FsBlobStore(dir('blobs'));
  // A push or build killed mid-write leaves a temp file beside the blobs (upload sessions are swept by the
  // registry). Nothing writes before the server listens, so every temp file older than this moment is such a
  // leftover; in the background, since it lists blobs/sha256, which may hold millions of names.
  void blobs.removeStaleTemp(0).then(
    (n) => n > 0 && process.stderr.write(`kiln: removed ${n} partial blob(s) left by an earlier process\n`),
    (err: unknown) => process.stderr.write(`kiln: could not remove partial blobs: ${String(err)}\n`),
  );
  return blobs;
}

/** Wires the build engine over a store and a data directory; nothing runs until startWorker. */
export async function startBuildEngine(input: { store: Store; dataDir: string; config: ServerConfig; registryHost: () => string; clock?: Clock; metrics?: Pick<KilnMetrics, 'stepEnded' | 'workflowEnded' | 'registryBytes'>; vulnerabilities?: VulnerabilitySource }): Promise<BuildEngine> {
  const { store, dataDir, config } = input;
  // Checked before anything below touches the directory: opening the blob store removes partial blobs, which
  // would be another process's blobs in the making. startWorker takes the lock itself.
  const holder = dataDirLockHolder(dataDir);
  if (holder !== undefined) throw dataDirInUse(holder);
  const dir = (name: string) => {
    const p = path.join(dataDir, name);
    mkdirSync(p, { recursive: true, mode: 0o700 });
    return p;
  };
  const blobs = await openBlobStore(config, dir);
  const shared = await openSharedObjects(config);
  const exportUpload = openExportUploads(config);
  const layers = new LayerCache(dir('layers'), blobs);
  const scratchRoot = dir('scratch');
  const logsRoot = dir('logs');
  const region = config.regions[0]!;
  const builtin = createBuiltinRegistry({ store, blobs, region });
  const client = new RegistryClient(config.registries);
  const workRoot = dir('work');
  const managed = new ManagedBases({ store, blobs, mirror: config.debianMirror, workRoot, regions: config.regions, log: (text) => process.stderr.write(`kiln: ${text}`) });
  const accel = detectAccel();
  const disks = await openDiskStore(config, dir('disks'), (text) => process.stderr.write(`kiln: ${text}`));
  await registerManagedBases(store, config.regions);
  // The workflows the engine's stages are executions of: listed and served as Amazon's (issue 17).
  await registerManagedWorkflows(store, config.regions);
  // Amazon's components that real recipes name by ARN (update-linux, ...), written for Kiln's bases (issue 17).
  await registerManagedComponents(store, config.regions);
  const glue = { blobs, client, builtin, managed, registryHost: input.registryHost, externalHosts: config.registries.map((r) => r.host) };
  const services: BuildServices = {
    store,
    blobs,
    layers,
    driver: new NsDriver(),
    parents: new RegistryParents(glue),
    recorder: new ExecutionRecorder(store, shared?.logs ?? logsRoot, input.metrics),
    distributor: new RegistryDistributor({ ...glue, regions: { regions: config.regions, registries: config.regionRegistries ?? {} }, signingKeys: store }),
    kept: new KeptInstances(),
    modules: actionModules(),
    layerCompression: config.layerCompression,
    paths: { scratchRoot, logsRoot },
    ...(input.vulnerabilities ? { vulnerabilities: input.vulnerabilities } : {}),
    machine: {
      disks,
      managedRootfs: (record, signal, log) => managed.image(record, signal, log),
      workRoot,
      accel,
      // TCG boots take 20-30 s on a quiet machine (machine.md §4); builds share the cores, so leave room.
      bootTimeoutMs: accel.accel === 'kvm' ? 120_000 : 400_000,
      exportBuckets: config.exportBuckets,
      ...(exportUpload ? { exportUpload } : {}),
      regions: config.regions,
    },
  };
  let worker: BuildWorker | undefined;
  let layerSweep: NodeJS.Timeout | undefined;
  let lifecycle: LifecycleRunner | undefined;
  let unlock: () => void = () => undefined;
  // Preparations wait for the worker's start: its sweep empties the work folder their bootstraps run in.
  let workerStarted: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (workerStarted = resolve));
  const prefetch = () => void started.then(() => managed.prepareAll());
  return {
    services,
    bases: managed,
    prefetchBases: prefetch,
    imageOutputs: {
      store,
      blobs,
      registryHost: input.registryHost,
      deleteLogs: (imageArn) => services.recorder.logs.deleteImageLogs(imageArn),
      // The lifecycle runner serialises collections with its executions; a node without the scheduler role has none.
      collectGarbage: async () => lifecycle?.collectGarbage(),
      log: (text) => process.stderr.write(`kiln: ${text}`),
    },
    resolveParentTag: parentTagResolver(glue),
    get worker() {
      return worker;
    },
    registerRoutes(app, auth) {
      // Upload sessions stay on this node's disk, in its data directory, unless a shared bucket is configured.
      registerRegistry(app, {
        store,
        blobs,
        region,
        lookupKey: auth.lookupKey,
        ...(input.metrics ? { onBytes: input.metrics.registryBytes } : {}),
        uploadDir: blobs instanceof FsBlobStore ? path.join(blobs.root, 'uploads') : dir('uploads'),
        ...(shared ? { uploads: shared.uploads } : {}),
      });
      registerLogRoutes(app, { store, logs: services.recorder.logs, lookupKey: auth.lookupKey, regions: auth.regions });
      registerBasesRoutes(app, { lookupKey: auth.lookupKey, regions: auth.regions, status: () => managed.status(), prefetch });
      registerInstanceRoutes(app, {
        kept: services.kept,
        store,
        lookupKey: auth.lookupKey,
        regions: auth.regions,
        launch: async (request, signal) => {
          // VMs run where builds run: a node without the worker role (kiln serve --roles api) hosts none.
          if (!worker) throw new KilnError('Unavailable', 'This Kiln node runs no builds (it has no worker role), so it cannot launch instances.');
          return launchMachineInstance(services, request, signal);
        },
        ...(auth.instances ? { cluster: auth.instances } : {}),
      });
      registerMachineImageRoutes(app, {
        store,
        lookupKey: auth.lookupKey,
        regions: auth.regions,
        list: (accountId, region) => listUsableMachineImages(store, accountId, region),
        exportDisk: (who, image, format, signal) => exportMachineDisk(services, who, image, format, signal),
      });
      registerImageVerifyRoute(app, {
        lookupKey: auth.lookupKey,
        regions: auth.regions,
        verification: (who, image, signal) => imageVerification({ store, disks, blobs, builtin, registryHost: input.registryHost }, { ...who, arn: 'kiln images verify' }, image, signal),
      });
      registerImageSbomRoute(app, { store, lookupKey: auth.lookupKey, regions: auth.regions });
      registerImageImportRoutes(app, {
        lookupKey: auth.lookupKey,
        regions: auth.regions,
        importDisk: async (who, body, format, signal) => importTaskView(await importUploadedDisk({ store, disks, workRoot }, who, body, format, signal)),
        listImports: (who) => listImportTasks(store, who.accountId, who.region),
      });
    },
    wakeOnQueued(handlers) {
      const out = { ...handlers };
      for (const op of ['CreateImage', 'StartImagePipelineExecution', 'RetryImage', 'DistributeImage']) {
        const handler = handlers[op];
        if (!handler) continue;
        out[op] = async (input, ctx) => {
          const result = await handler(input, ctx);
          worker?.notify();
          return result;
        };
      }
      return out;
    },
    async startWorker(options = {}) {
      // Before the sweep: it would tear down the builds of another process on this data directory.
      unlock = lockDataDir(dataDir);
      worker = new BuildWorker(services, {
        ...(options.owner === undefined ? {} : { owner: options.owner }),
        concurrency: config.buildConcurrency,
        ...(config.buildLeaseSeconds === undefined ? {} : { leaseMs: config.buildLeaseSeconds * 1000 }),
        sweep: async () => [...(await sweepNsLeftovers(scratchRoot)), ...(await releaseWorkDir(workRoot))],
        log: (text) => process.stderr.write(`kiln: ${text}`),
      });
      await worker.start();
      workerStarted();
      // This node's unpacked layers follow the shared blobs: the collection on a scheduler node frees only its
      // own copies. Skipped while a build or a kept instance may stack layers here.
      layerSweep = setInterval(() => {
        if ((worker?.active ?? 0) > 0 || services.kept.list().length > 0) return;
        collectLocalLayers({ blobs, layers, graceMs: LAYER_SWEEP_GRACE_MS }).then(
          (n) => n > 0 && process.stderr.write(`kiln: removed ${n} unpacked layer(s) whose blobs were collected\n`),
          (err: unknown) => process.stderr.write(`kiln: sweeping the unpacked layers failed: ${String(err)}\n`),
        );
      }, LAYER_SWEEP_EVERY_MS);
      layerSweep.unref();
    },
    async startLifecycle(options) {
      lifecycle = await startLifecycleRunner({
        ...options,
        store,
        clock: input.clock ?? systemClock,
        blobs,
        layers,
        ...(services.machine ? { disks: services.machine.disks } : {}),
        registryHost: input.registryHost,
        buildCacheBytes: (config.buildCacheGiB ?? DEFAULT_BUILD_CACHE_GIB) * 1024 ** 3,
        deleteLogs: (arn) => services.recorder.logs.deleteImageLogs(arn),
        log: (text) => process.stderr.write(`kiln: ${text}`),
      });
    },
    async stop() {
      clearInterval(layerSweep);
      await lifecycle?.stop();
      await worker?.stop();
      await managed.stop();
      await services.kept.releaseAll((text) => process.stderr.write(`kiln: ${text}`));
      unlock();
    },
  };
}
