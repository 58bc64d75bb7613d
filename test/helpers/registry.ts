/**
 * Registries for tests: a real Debian `docker-registry` (distribution 2.8) on a free loopback port, optionally
 * behind htpasswd or token auth (with a small RS256 token server), Kiln's own registry on a fastify app over a
 * temp store, and a small test image written with Kiln's OCI writer. Everything stops and is removed after
 * the test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate, createSign, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildApi } from '../../src/api/aws/server.js';
import type { BlobStore } from '../../src/artifacts/blob-store.js';
import { FsBlobStore } from '../../src/artifacts/blob-store.js';
import { writeImage, type ContainerConfig } from '../../src/artifacts/oci/image.js';
import { writeLayer } from '../../src/artifacts/oci/layer.js';
import { createAccount } from '../../src/service/accounts.js';
import { buildHandlers } from '../../src/service/handlers.js';
import { createBuiltinRegistry, type BuiltinRegistry } from '../../src/registry/server/builtin-registry.js';
import { registerRegistry } from '../../src/registry/server/routes.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

type Cleanup = Pick<TestContext, 'after'>;

function tempDir(t: Cleanup, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A port nobody listens on right now (the registry binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Why the docker-registry tests cannot run here, or undefined. */
export function dockerRegistryUnavailable(): string | undefined {
  for (const tool of ['docker-registry', 'htpasswd', 'openssl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `needs ${tool} (Debian packages docker-registry, apache2-utils, openssl)`;
    }
  }
  return undefined;
}

/** A token server for docker-registry's `auth: token:` (RS256 JWTs with the signing certificate in `x5c`). */
export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  /** The self-signed certificate the registry trusts (`rootcertbundle`). */
  certPath: string;
  /** Every token request: the scopes asked for and the user (undefined = anonymous). */
  requests: { scopes: string[]; user: string | undefined }[];
}

/**
 * Starts a token server on 127.0.0.1. `users` may have every action they ask for; anonymous callers get
 * `pull` when `anonymousPull` is set, and a 401 otherwise. Wrong passwords get a 401.
 */
export async function startTokenServer(t: Cleanup, options: { users: Record<string, string>; anonymousPull?: boolean }): Promise<TokenServer> {
  const dir = tempDir(t, 'kiln-token-');
  const keyPath = path.join(dir, 'key.pem');
  const certPath = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=kiln-test-token-issuer'], { stdio: 'ignore' });
  const key = readFileSync(keyPath, 'utf8');
  const x5c = new X509Certificate(readFileSync(certPath)).raw.toString('base64');
  const service = 'kiln-test-registry';
  const issuer = 'kiln-test-issuer';
  const requests: TokenServer['requests'] = [];
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  const server: Server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    let user: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [name = '', pass = ''] = Buffer.from(auth.slice(6), 'base64').toString().split(/:(.*)/s);
      if (options.users[name] !== pass) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"wrong password"}');
        return;
      }
      user = name;
    } else if (!options.anonymousPull) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"credentials required"}');
      return;
    }
    requests.push({ scopes, user });
    const access = scopes.map((scope) => {
      const [type = '', ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',').filter(Boolean);
      return { type, name: rest.join(':'), actions: user ? actions : actions.filter((a) => a === 'pull') };
    });
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: user ?? '', aud: service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const signingInput = `${b64({ alg: 'RS256', typ: 'JWT', x5c: [x5c] })}.${b64(claims)}`;
    const signature = createSign('RSA-SHA256').update(signingInput).sign(key).toString('base64url');
    const token = `${signingInput}.${signature}`;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { realm: `http://127.0.0.1:${port}/token`, service, issuer, certPath, requests };
}

export interface DockerRegistryOptions {
  /** Basic auth with these users (an htpasswd file made with `htpasswd -Bbn`). */
  htpasswd?: Record<string, string>;
  /** Token auth against this token server. */
  token?: TokenServer;
}

/** Starts Debian's docker-registry on a free 127.0.0.1 port; it is killed and its data removed after the test. */
export async function startDockerRegistry(t: Cleanup, options: DockerRegistryOptions = {}): Promise<{ host: string; url: string }> {
  const dir = tempDir(t, 'kiln-docker-registry-');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: { level: error, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} }, delete: { enabled: true }, cache: { blobdescriptor: inmemory } }`,
    `http: { addr: "127.0.0.1:${port}", secret: "${randomBytes(16).toString('hex')}" }`,
  ];
  if (options.htpasswd) {
    const file = path.join(dir, 'htpasswd');
    const entries = Object.entries(options.htpasswd).map(([user, pass]) => execFileSync('htpasswd', ['-Bbn', user, pass], { encoding: 'utf8' }).trim());
    writeFileSync(file, `${entries.join('\n')}\n`);
    lines.push(`auth: { htpasswd: { realm: kiln-test, path: ${JSON.stringify(file)} } }`);
  } else if (options.token) {
    const tk = options.token;
    lines.push(`auth: { token: { realm: ${JSON.stringify(tk.realm)}, service: ${tk.service}, issuer: ${tk.issuer}, rootcertbundle: ${JSON.stringify(tk.certPath)} } }`);
  }
  const configPath = path.join(dir, 'config.yml');
  writeFileSync(configPath, `${lines.join('\n')}\n`);

  const child = spawn('docker-registry', ['serve', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited with ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200 || r.status === 401,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not start on ${url}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { host: `127.0.0.1:${port}`, url };
}

/**
 * Writes a one-layer test image whose root file system holds `files` (path → content) into `blobs`, with
 * fixed times so the same files give the same digests.
 */
export async function makeTestImage(
  blobs: BlobStore,
  files: Record<string, string>,
  options: { architecture?: string; os?: string; config?: ContainerConfig } = {},
): Promise<{ manifestDigest: string; configDigest: string; layerDigests: string[] }> {
  const dir = await fsp.mkdtemp(path.join(tmpdir(), 'kiln-test-image-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(dir, name);
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.writeFile(file, content);
    }
    const epoch = 1_700_000_000;
    const layer = await writeLayer(blobs, dir, { source: 'rootfs', sourceDateEpoch: epoch, compression: 'gzip' });
    const image = await writeImage(blobs, {
      layers: [layer],
      created: new Date(epoch * 1000).toISOString(),
      config: options.config ?? { Cmd: ['/bin/sh'] },
      ...(options.architecture ? { architecture: options.architecture } : {}),
      ...(options.os ? { os: options.os } : {}),
    });
    return { manifestDigest: image.manifestDigest, configDigest: image.configDigest, layerDigests: [layer.digest] };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

export interface KilnAccount {
  accountId: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `KEY:SECRET`, as skopeo's `--creds` takes it. */
  creds: string;
}

/** Kiln's registry on the Image Builder API's fastify app, as `kiln serve` builds it, over a temp store. */
export interface KilnRegistry {
  url: string;
  /** `127.0.0.1:<port>`. */
  host: string;
  store: SqliteStore;
  blobs: FsBlobStore;
  registry: BuiltinRegistry;
  admin: KilnAccount;
  addAccount(name: string): Promise<KilnAccount>;
  /** Blob and manifest bytes the registry counted in and out (its onBytes, as metrics get them), so far. */
  bytes: Record<'in' | 'out', Record<'blob' | 'manifest', number>>;
}

export async function startKilnRegistry(t: Cleanup): Promise<KilnRegistry> {
  const dir = tempDir(t, 'kiln-registry-');
  const store = new SqliteStore({ path: path.join(dir, 'kiln.db'), secrets: SecretBox.openKeyFile(path.join(dir, 'secret.key')) });
  const blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const regions = ['local'];
  const app = buildApi({ handlers: buildHandlers(store, { regions }), regions: new Set(regions), lookupKey: (id) => store.getAccessKeySecret(id) });
  // Counted as `kiln serve` counts them for /metrics, so every registry test runs through the counting wrappers.
  const bytes = { in: { blob: 0, manifest: 0 }, out: { blob: 0, manifest: 0 } };
  registerRegistry(app, { store, blobs, region: 'local', onBytes: (direction, kind, n) => (bytes[direction][kind] += n) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    await app.close();
    await store.close();
  });
  const { port } = app.server.address() as AddressInfo;
  const addAccount = async (name: string): Promise<KilnAccount> => {
    const { account, key } = await createAccount(store, name, { admin: name === 'admin' });
    return { accountId: account.accountId, accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, creds: `${key.accessKeyId}:${key.secretAccessKey}` };
  };
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    store,
    blobs,
    registry: createBuiltinRegistry({ store, blobs, region: 'local' }),
    admin: await addAccount('admin'),
    addAccount,
    bytes,
  };
}
