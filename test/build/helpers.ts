/**
 * Helpers for end-to-end build tests: a Kiln server that runs builds, a small offline base image pushed into
 * its registry with skopeo, waiting for images, and a check that a build left nothing behind on the host.
 */
import type { TestContext } from 'node:test';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetImageCommand, ImagebuilderClient, type Image } from '@aws-sdk/client-imagebuilder';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { importBaseRootfs } from '../../src/artifacts/oci/base-rootfs.js';
import { exportLayout, writeImage } from '../../src/artifacts/oci/image.js';
import { startServer, type RunningServer, type ServeOptions } from '../../src/app/server-start.js';
import { DEFAULT_DEBIAN_MIRROR, type ServerConfig } from '../../src/app/server-config.js';
import { OVMF_FIRMWARE } from '../../src/drivers/vm/qemu.js';
import { sharedTestRootfs } from '../../src/drivers/testsuite/test-rootfs.js';
import { readCredentials } from '../api/fixture.js';

/**
 * Runs a tool without blocking the event loop: the Kiln server under test runs in this process, so a
 * synchronous child (skopeo talking to Kiln's registry) would wait for a server that cannot answer.
 */
export async function run(file: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(file, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return stdout;
}

/** Why end-to-end builds cannot run here, or undefined when they can. */
export function buildSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root: builds use mount namespaces and overlayfs';
  for (const tool of ['skopeo', 'unshare', 'slirp4netns']) {
    try {
      execFileSync('bash', ['-c', `type -P ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool} (scripts/install.sh --test installs it)`;
    }
  }
  return undefined;
}

export interface BuildServer {
  server: RunningServer;
  dataDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  client: ImagebuilderClient;
}

/** A Kiln server with builds on (and its scheduler, on `serve.clock` if given), in a temp data dir; both are gone after the test. */
export async function startBuildServer(t: TestContext, config: Partial<ServerConfig> = {}, serve: Pick<ServeOptions, 'clock'> & { dataDir?: string } = {}): Promise<BuildServer> {
  const { dataDir = mkdtempSync(path.join(tmpdir(), 'kiln-build-')), ...options } = serve;
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const server = await startServer({ dataDir, listen: '127.0.0.1:0', config, ...options });
  t.after(() => server.close());
  const credentials = readCredentials(server.credentialsPath);
  const client = new ImagebuilderClient({ endpoint: server.endpoint, region: 'local', credentials, maxAttempts: 1 });
  t.after(() => client.destroy());
  return { server, dataDir, credentials, client };
}

/**
 * Pushes an image made of this host's bash and coreutils into Kiln's registry as `repository:tag`, with skopeo;
 * another `created` date makes another image of the same files (a new base for the same tag).
 */
export async function pushHostBase(t: TestContext, target: { server: { registryHost: string }; credentials: { accessKeyId: string; secretAccessKey: string } }, repository: string, tag = '1', created = '2023-11-14T22:13:20Z'): Promise<string> {
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-hostbase-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const blobs = new FsBlobStore(path.join(work, 'blobs'));
  const layer = await importBaseRootfs(blobs, { dir: sharedTestRootfs() }, { sourceDateEpoch: 1_700_000_000, compression: 'gzip' });
  const image = await writeImage(blobs, { layers: [layer], config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/bash'] }, created });
  await exportLayout(blobs, image.manifestDigest, path.join(work, 'layout'), 'base');
  const ref = `${target.server.registryHost}/${repository}:${tag}`;
  const creds = `${target.credentials.accessKeyId}:${target.credentials.secretAccessKey}`;
  await run('skopeo', ['copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', '--dest-creds', creds, `oci:${path.join(work, 'layout')}:base`, `docker://${ref}`]);
  return ref;
}

const FINAL = new Set(['AVAILABLE', 'FAILED', 'CANCELLED']);

/** Why machine-image builds cannot run here (tools, firmware, the Debian mirror the managed base comes from), or undefined. */
export async function machineSkipReason(): Promise<string | undefined> {
  const local = buildSkipReason() ?? (await toolsSkipReason(['qemu-system-x86_64', 'qemu-img', 'mmdebstrap', 'sfdisk', 'mcopy']));
  if (local) return local;
  if (!existsSync(OVMF_FIRMWARE)) return `needs ${OVMF_FIRMWARE} (Debian package ovmf)`;
  return mirrorSkipReason();
}

/** Why a test cannot run for want of one of these tools (the first missing), or undefined. */
export async function toolsSkipReason(tools: readonly string[]): Promise<string | undefined> {
  for (const tool of tools) {
    try {
      await run('bash', ['-c', `type -P ${tool}`]);
    } catch {
      return `needs ${tool} (scripts/install.sh installs it)`;
    }
  }
  return undefined;
}

/** Why a test that bootstraps a Debian base cannot reach the mirror, or undefined. */
export async function mirrorSkipReason(): Promise<string | undefined> {
  try {
    const res = await fetch(`${DEFAULT_DEBIAN_MIRROR}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return res.ok ? undefined : `needs the network: the Debian mirror answered ${res.status}`;
  } catch (err) {
    return `needs the network: the Debian mirror ${DEFAULT_DEBIAN_MIRROR} is unreachable (${(err as Error).message})`;
  }
}

/** Polls GetImage until the image's state is final (or `until` matches); fails after timeoutMs. */
export async function waitForImage(client: ImagebuilderClient, arn: string, options: { until?: (image: Image) => boolean; timeoutMs?: number } = {}): Promise<Image> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const image = (await client.send(new GetImageCommand({ imageBuildVersionArn: arn }))).image!;
    if (options.until ? options.until(image) : FINAL.has(image.state?.status ?? '')) return image;
    if (Date.now() > deadline) throw new Error(`image ${arn} is still ${image.state?.status} (${image.state?.reason ?? ''}) after the wait`);
    await sleep(100);
  }
}

/** What a build may leave on the host: mounts, processes and instance folders under the data dir. */
export function hostLeftovers(dataDir: string): string[] {
  const found: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mountPoint = line.split(' ')[4];
    if (mountPoint?.startsWith(dataDir)) found.push(`mount ${mountPoint}`);
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const root = readlinkSync(`/proc/${entry}/root`);
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (root.startsWith(dataDir) || cwd.startsWith(dataDir)) found.push(`process ${entry} (root ${root}, cwd ${cwd})`);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(path.join(dataDir, 'scratch'))) found.push(`process ${entry}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  try {
    for (const d of readdirSync(path.join(dataDir, 'scratch'))) found.push(`folder scratch/${d}`);
  } catch {
    // no scratch folder at all
  }
  return found;
}

/** A component document as YAML text, from phases of bash command lists. */
export function bashComponent(phases: Record<string, string[]>, parameters: Record<string, string> = {}): string {
  const lines = ['name: e2e', 'schemaVersion: 1.0'];
  if (Object.keys(parameters).length > 0) {
    lines.push('parameters:');
    for (const [name, dflt] of Object.entries(parameters)) lines.push(`  - ${name}:`, '      type: string', `      default: ${JSON.stringify(dflt)}`);
  }
  lines.push('phases:');
  for (const [phase, commands] of Object.entries(phases)) {
    lines.push(`  - name: ${phase}`, '    steps:', `      - name: ${phase}Step`, '        action: ExecuteBash', '        inputs:', '          commands:');
    for (const c of commands) lines.push(`            - ${JSON.stringify(c)}`);
  }
  return `${lines.join('\n')}\n`;
}
