import { realpathSync, openSync, writeSync, closeSync, existsSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addHostRoot } from '../domain/host-paths.js';
import { registerEventRoutes } from '../api/kiln/events-route.js';
import { buildApi } from '../api/aws/server.js';
import { ImageEventBus, observeImageStates } from '../events/image-events.js';
import { Notifier } from '../events/notifier.js';
import { isScanFindingsEvent, isStepWaitingEvent } from '../store/roles/event-log.js';
import { registerConsole } from '../api/kiln/console-route.js';
import { registerConsoleApiRoutes } from '../api/kiln/console-api-routes.js';
import { registerPipelineRoutes } from '../api/kiln/pipeline-routes.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { isTerminal } from '../pipelines/run-state.js';
import { PipelineScheduler } from '../pipelines/scheduler.js';
import { ensureAdmin } from '../service/accounts.js';
import { pipelineRunStarter, trackManualRuns } from '../service/pipeline-runs.js';
import { buildHandlers } from '../service/handlers.js';
import { freeingDeletedImages } from '../service/image-deletion.js';
import { authenticatingKeys, KeyUseRecorder } from '../service/key-use.js';
import type { NodeRole, Store } from '../store/store.js';
import { newLeaseOwner } from '../store/lease-owners.js';
import { registerWorkersRoute } from '../api/kiln/workers-route.js';
import { registerBuildCacheRoutes } from '../api/kiln/build-cache-routes.js';
import { advertisedUrl, parseAdvertise, resolveRoles } from './node-roles.js';
import { createNodeListener } from './node-listener.js';
import { HEARTBEAT_MS, LOST_AFTER_BEATS, NodeHeartbeat } from './node-heartbeat.js';
import { openConfiguredStore } from './store-open.js';
import { imageEventFeed } from './event-feed.js';
import { loadServerConfig, type ServerConfig } from './server-config.js';
import { startBuildEngine, type BuildEngine } from './build-engine.js';
import { VulnerabilityDatabase } from '../vulnerabilities/vulnerability-database.js';
import { rescanAvailableImages } from '../builder/stages/image-scan.js';
import { registerVulnerabilitiesRoutes } from '../api/kiln/vulnerabilities-route.js';
import { openInstanceCluster, type ClusterMembership } from './instance-cluster.js';
import { registerInternalInstanceRoutes } from '../api/kiln/internal-instances-route.js';
import { registerHealthAndMetrics } from '../metrics/health-routes.js';
import { startNodeMetrics } from './node-metrics.js';

export { DEFAULT_LISTEN } from './server-defaults.js';
export { openConfiguredStore, openStore } from './store-open.js';

/** The data directory: `--data-dir`, else `$KILN_DATA_DIR`, else `./.kiln`. */
export function resolveDataDir(flag: string | undefined): string {
  return path.resolve(flag ?? process.env.KILN_DATA_DIR ?? '.kiln');
}

/**
 * Declares the host directories whose paths tenants must not see in reasons, step logs and errors: the data
 * directory (as given and as resolved through symlinks), Kiln's installation and its temp folders.
 */
export function hideHostPaths(dataDir: string): void {
  addHostRoot(dataDir, '<data-dir>');
  try {
    addHostRoot(realpathSync(dataDir), '<data-dir>');
  } catch {
    // Gone already: the path as given is declared.
  }
  addHostRoot(fileURLToPath(new URL('../../..', import.meta.url)), '<kiln>');
  addHostRoot(path.join(tmpdir(), 'kiln-'), '<tmp>/kiln-', { prefix: true });
}

/** Reads the certificate and key files, naming the one that cannot be read. */
function readTls(tls: { certificate: string; key: string }): { cert: Buffer; key: Buffer } {
  const read = (field: string, file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`tls.${field}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  };
  return { cert: read('certificate', tls.certificate), key: read('key', tls.key) };
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:8420`). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`--listen must be HOST:PORT, got '${text}'`);
  return { host: (m[1] ?? m[2])!, port };
}

async function writeCredentialsIfMissing(store: Store, accountId: string, file: string): Promise<void> {
  if (existsSync(file)) return;
  const key = (await store.listAccessKeys(accountId)).find((k) => k.status === 'Active');
  const secret = key && (await store.getAccessKeySecret(key.accessKeyId));
  if (!key || !secret) throw new Error(`the admin account ${accountId} has no active access key (kiln accounts keys create ${accountId})`);
  const text = `[default]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${secret.secretAccessKey}\n`;
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

export interface ServeOptions {
  dataDir: string;
  listen: string;
  configPath?: string;
  /** Settings over the configuration file's (tests use it for registries and the mirror). */
  config?: Partial<ServerConfig>;
  /**
   * What this node does (node-roles.ts); default every role, unless the older switches below say otherwise.
   * A node without `api` serves only its node listener (health, and what registerNodeRoutes adds).
   */
  roles?: readonly NodeRole[];
  /** Whether this server runs builds (default true); API tests turn it off to keep images PENDING. Superseded by `roles`. */
  builds?: boolean;
  /**
   * Whether the managed bases are prepared in the background from the start when the configuration does not say
   * (`prefetchBases`); default false, so test servers never bootstrap unasked. `kiln serve` passes true.
   */
  prefetchBasesByDefault?: boolean;
  /** Whether pipelines run on their schedules (default: when builds run). Superseded by `roles`. */
  scheduler?: boolean;
  /** Base URL other nodes reach this node's listener at (default: from the listen address, see advertisedUrl). */
  advertise?: string;
  /**
   * `host:port` that image URIs name for Kiln's registry (default: this node's listener). A node without `api`
   * serves no registry, so its builds should name the API nodes' address here.
   */
  registryHost?: string;
  /** Period of this node's heartbeat in the store (default 5 s); a node is lost after three missed. */
  heartbeatMs?: number;
  /**
   * Registers routes on this node's listener (the API app, or the node listener of a node without `api`) before
   * it listens: the place for node routes such as metrics or forwarded instance routes.
   */
  registerNodeRoutes?: (app: FastifyInstance, node: NodeIdentity) => void | Promise<void>;
  /** The time the scheduler and pipelines read; tests pass a TestClock. */
  clock?: Clock;
  logger?: boolean;
  /** This node in a cluster: kept instances on the other nodes are listed and forwarded to (instance-cluster.ts). */
  cluster?: ClusterMembership;
}

/** This process among the cluster's nodes. */
export interface NodeIdentity {
  /** `<host>/<pid>/<nonce>`: the heartbeat's id, and the lease owner of the jobs this node's worker takes. */
  id: string;
  host: string;
  roles: NodeRole[];
  /** Base URL of this node's listener, as other nodes reach it (`--advertise`). */
  endpoint: string;
}

/** A running Kiln server. */
export interface RunningServer {
  /** Base URL of the API, e.g. `http://127.0.0.1:8420`; on a node without `api`, of its node listener. */
  endpoint: string;
  /** The console's URL; empty on a node without `api`. */
  consoleUrl: string;
  /** The admin credentials file; empty on a node without `api` (it makes no admin account). */
  credentialsPath: string;
  regions: string[];
  /** `host:port` of the built-in registry, as image URIs name it. */
  registryHost: string;
  /** Who this node is among the cluster's nodes, and what it does. */
  node: NodeIdentity;
  /** The app this node listens with (the API's, or the node listener of a node without `api`). */
  app: FastifyInstance;
  /** The build engine, when this server runs builds. */
  engine: BuildEngine | undefined;
  /** Image state changes of this server (every change committed through its store), for subscribers such as the scheduler. */
  events: ImageEventBus;
  /** The pipeline scheduler, when this server runs one. */
  scheduler: PipelineScheduler | undefined;
  /** Stops accepting requests, waits for the ones in flight, and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the store and starts this node's roles: with `api`, makes sure the admin account and its credentials
 * file exist and serves the API; with `scheduler`, ticks the pipeline scheduler and the lifecycle runner; with
 * `worker`, runs builds. Every node records itself in the store with a heartbeat until it is closed.
 */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const roles = resolveRoles(options);
  const has = (role: NodeRole) => roles.includes(role);
  const config: ServerConfig = { ...loadServerConfig(options.configPath), ...options.config };
  const { host, port } = parseListen(options.listen);
  const advertise = options.advertise === undefined ? undefined : parseAdvertise(options.advertise, 'advertise');
  const events = new ImageEventBus();
  const raw = await openConfiguredStore(options.dataDir, config);
  // The bus is fed from the store's event log (every node's changes); the decorator, wrapped before anything
  // else gets the store, makes this node's own changes reach it before their write resolves.
  const feed = imageEventFeed(raw, events);
  const store = observeImageStates(raw, feed);
  hideHostPaths(options.dataDir);
  const lostAfterMs = LOST_AFTER_BEATS * (options.heartbeatMs ?? HEARTBEAT_MS);
  const observed = startNodeMetrics({ store, config, lostAfterMs });
  // The bus carries every node's changes; this node's metrics count those made through it.
  events.subscribe((change) => (change.local && !isStepWaitingEvent(change) && !isScanFindingsEvent(change) ? observed.metrics.imageStateChanged(change) : undefined));
  const notifier = new Notifier({ store, bus: events, config: config.notifications, onDelivery: observed.metrics.notificationDelivered });
  const log = (text: string) => process.stderr.write(`kiln: ${text}`);
  const nodeId = newLeaseOwner();
  const vulnerabilities = new VulnerabilityDatabase(config.vulnerabilityFeeds ?? []);
  let engine: BuildEngine | undefined;
  let heartbeat: NodeHeartbeat | undefined;
  let listener: FastifyInstance | undefined;
  try {
    await feed.start();
    notifier.start();
    const admin = has('api') ? (await ensureAdmin(store)).account : undefined;
    const credentialsPath = admin ? path.join(options.dataDir, 'credentials') : '';
    if (admin) await writeCredentialsIfMissing(store, admin.accountId, credentialsPath);
    const regions = new Set(config.regions);
    const clock = options.clock ?? systemClock;
    const lookupKey = authenticatingKeys(store, new KeyUseRecorder(store, { now: () => clock.now(), onError: (err) => process.stderr.write(`kiln: recording an access key's last use failed: ${String(err)}\n`) }));
    let registryHost = options.registryHost ?? '';
    let endpoint = '';
    engine = await startBuildEngine({ store, dataDir: options.dataDir, config, registryHost: () => registryHost, clock, metrics: observed.metrics, vulnerabilities });
    // Continuous scanning: each reload of the feeds rescans the AVAILABLE images that have scanning enabled.
    vulnerabilities.onReload(async (index, signal) => {
      const { changed } = await rescanAvailableImages(store, vulnerabilities, index, signal);
      if (changed.length > 0) log(`vulnerability feed update: ${changed.length} image(s) have new scan findings\n`);
    });
    const built = engine;
    const scheduler = new PipelineScheduler({
      store,
      clock,
      resolveTag: built.resolveParentTag,
      runs: pipelineRunStarter(store),
      onQueued: () => built.worker?.notify(),
      log,
      leadership: { nodes: store, owner: nodeId },
      onTick: observed.metrics.schedulerTick,
    });
    // Builds are queued with an image state change (CreateImage, a pipeline run, RetryImage): another node's
    // change reaches this bus at once (LISTEN/NOTIFY on PostgreSQL), so a worker looks for work then instead of
    // at its next poll. This node's own changes wake it through wakeOnQueued.
    events.subscribe((change) => (change.local ? undefined : built.worker?.notify()));
    // A run's end is applied to its pipeline as soon as it is committed; the next tick applies it otherwise.
    events.subscribe(async (change) => {
      if (!isTerminal(change.status)) return;
      const image = await store.getResource(change.arn);
      if (image) await scheduler.runEnded(image);
    });
    const tls = config.tls ? readTls(config.tls) : undefined;
    const app = has('api')
      ? buildApi({
          handlers: engine.wakeOnQueued(freeingDeletedImages(trackManualRuns(buildHandlers(store, { regions: config.regions, clock }), store, scheduler), engine.imageOutputs)),
          regions,
          lookupKey,
          logger: options.logger ?? false,
          onResponse: observed.metrics.apiRequest,
          ...(tls ? { tls } : {}),
        })
      : createNodeListener({ logger: options.logger ?? false, ...(tls ? { tls } : {}) });
    listener = app;
    // Every node forwards to and answers for the kept instances of the others, over the signed internal channel.
    const cluster = openInstanceCluster(options.dataDir, config, options.cluster ?? { nodeId, nodes: store, lostAfterMs });
    registerInternalInstanceRoutes(app, { kept: engine.services.kept, signer: cluster.signer });
    registerHealthAndMetrics(app, observed.healthDeps(engine.services.blobs));
    if (has('api')) {
      engine.registerRoutes(app, { lookupKey, regions, instances: cluster.instances });
      registerEventRoutes(app, { store, bus: events, lookupKey, regions });
      registerPipelineRoutes(app, { store, scheduler, lookupKey, regions, endpoint: () => endpoint });
      registerConsoleApiRoutes(app, { store, lookupKey, regions });
      registerWorkersRoute(app, { store, lookupKey, regions, lostAfterMs });
      registerBuildCacheRoutes(app, { store, lookupKey, regions });
      registerVulnerabilitiesRoutes(app, { store, lookupKey, regions, vulnerabilities });
      await registerConsole(app);
    }
    const node: NodeIdentity = { id: nodeId, host: hostname(), roles, endpoint: '' };
    await options.registerNodeRoutes?.(app, node);
    await app.listen({ host, port });
    const address = app.server.address();
    const actualPort = typeof address === 'object' && address ? address.port : port;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    registryHost ||= `${hostPart}:${actualPort}`;
    endpoint = `${tls ? 'https' : 'http'}://${hostPart}:${actualPort}`;
    node.endpoint = advertise ?? advertisedUrl({ host, port: actualPort }, tls !== undefined);
    heartbeat = new NodeHeartbeat({ nodes: store, node, ...(options.heartbeatMs === undefined ? {} : { periodMs: options.heartbeatMs }), log });
    await heartbeat.start();
    if (has('worker')) await engine.startWorker({ owner: nodeId });
    if (vulnerabilities.configured) {
      // Loaded in the background: a scan waits for it; the daily refresh follows.
      vulnerabilities.update().catch((err: unknown) => log(`loading the vulnerability feeds failed: ${String(err)}\n`));
      vulnerabilities.startRefresh();
    }
    if (has('worker') && (config.prefetchBases ?? options.prefetchBasesByDefault ?? false)) engine.prefetchBases();
    if (has('scheduler')) {
      scheduler.start();
      await engine.startLifecycle({ owner: nodeId, leadership: { nodes: store } });
    }
    const running = engine;
    const beating = heartbeat;
    let closing: Promise<void> | undefined;
    return {
      endpoint,
      consoleUrl: has('api') ? `${endpoint}/console/` : '',
      credentialsPath,
      regions: config.regions,
      registryHost,
      node,
      app,
      engine: has('worker') ? running : undefined,
      events,
      scheduler: has('scheduler') ? scheduler : undefined,
      // Once: a second call (a test's cleanup after an explicit close) waits for the first.
      close: () =>
        (closing ??= (async () => {
          await scheduler.stop();
          vulnerabilities.close();
          await running.stop();
          await beating.stop();
          await notifier.stop();
          await app.close();
          await feed.stop();
          await store.close();
        })()),
    };
  } catch (err) {
    vulnerabilities.close();
    await engine?.stop().catch(() => undefined);
    await heartbeat?.stop();
    await listener?.close().catch(() => undefined);
    await notifier.stop();
    await feed.stop();
    await store.close();
    throw err;
  }
}
