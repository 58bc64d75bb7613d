import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { makeContext, runAction, scratchDir, validateInputs } from '../../../test/helpers/action-context.js';
import { ActionFailure } from './types.js';
import { createWebDownload } from './web-download.js';

const HELLO = 'hello from kiln\n';
const BIG = Buffer.alloc(9 * 1024 * 1024 + 123, 'abcdefghij');
const digest = (algorithm: string, data: string | Buffer) => createHash(algorithm).update(data).digest('hex');

// Retries are real but fast, so the retry tests do not sleep for seconds.
const webDownload = createWebDownload({ retryDelayMs: 1 });

/** Requests per path, to tell whether the module downloaded at all and how often it retried. */
const hits = new Map<string, number>();
let flakyFailures = 0;

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = req.url ?? '/';
  hits.set(path, (hits.get(path) ?? 0) + 1);
  if (path === '/files/hello.txt') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end(HELLO);
  } else if (path === '/files/big.bin') {
    res.writeHead(200).end(BIG);
  } else if (path === '/files/with%20space.txt') {
    res.writeHead(200).end(HELLO);
  } else if (path === '/redirect') {
    res.writeHead(302, { location: '/files/hello.txt' }).end();
  } else if (path === '/flaky.txt') {
    if (flakyFailures > 0) {
      flakyFailures--;
      res.writeHead(503).end('try later');
    } else {
      res.writeHead(200).end(HELLO);
    }
  } else if (path === '/always-500') {
    res.writeHead(500).end('broken');
  } else if (path === '/folder/') {
    res.writeHead(200).end('index');
  } else if (path === '/no-content') {
    res.writeHead(204).end();
  } else {
    res.writeHead(404).end('not here');
  }
}

let server: http.Server;
let base: string;

before(async () => {
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** Files in a folder, including hidden staging files a failed download must not leave behind. */
const listing = async (dir: string) => (await readdir(dir)).sort();

describe('WebDownload', () => {
  test('downloads to a file destination and reports it as output', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'renamed.txt');
    const result = await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
    assert.deepEqual(result.outputs, { destination });
  });

  test('a destination ending in / is a folder: created, file named after the URL', async (t) => {
    const dir = await scratchDir(t);
    const folder = join(dir, 'new', 'nested') + '/';
    const result = await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination: folder }], makeContext(dir));
    assert.equal(await readFile(join(folder, 'hello.txt'), 'utf8'), HELLO);
    assert.equal(result.outputs.destination, `${folder}hello.txt`);
  });

  test('percent-encoded file names are decoded for folder destinations', async (t) => {
    const dir = await scratchDir(t);
    await runAction(webDownload, [{ source: `${base}/files/with%20space.txt`, destination: `${dir}/` }], makeContext(dir));
    assert.equal(await readFile(join(dir, 'with space.txt'), 'utf8'), HELLO);
  });

  test('several inputs give a newline-joined destination output', async (t) => {
    const dir = await scratchDir(t);
    const inputs = [
      { source: `${base}/files/hello.txt`, destination: join(dir, 'one.txt') },
      { source: `${base}/files/hello.txt`, destination: `${dir}/two/` },
    ];
    const result = await runAction(webDownload, inputs, makeContext(dir));
    assert.equal(result.outputs.destination, `${join(dir, 'one.txt')}\n${dir}/two/hello.txt`);
  });

  test('a relative destination is resolved against the working directory', async (t) => {
    const dir = await scratchDir(t);
    const result = await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination: 'rel/x.txt' }], makeContext(dir));
    assert.equal(await readFile(join(dir, 'rel', 'x.txt'), 'utf8'), HELLO);
    assert.equal(result.outputs.destination, 'rel/x.txt');
  });

  for (const algorithm of ['MD5', 'SHA1', 'SHA256', 'SHA512']) {
    test(`${algorithm}: a matching checksum keeps the file`, async (t) => {
      const dir = await scratchDir(t);
      const destination = join(dir, 'ok.txt');
      const checksum = digest(algorithm.toLowerCase(), HELLO).toUpperCase();
      await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination, checksum, algorithm }], makeContext(dir));
      assert.equal(await readFile(destination, 'utf8'), HELLO);
    });

    test(`${algorithm}: a wrong checksum fails and leaves no file`, async (t) => {
      const dir = await scratchDir(t);
      const destination = join(dir, 'bad.txt');
      const checksum = digest(algorithm.toLowerCase(), 'something else');
      await assert.rejects(
        runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination, checksum, algorithm }], makeContext(dir)),
        (err: Error) => err instanceof ActionFailure && /checksum/.test(err.message) && err.message.includes('/files/hello.txt'),
      );
      assert.deepEqual(await listing(dir), []);
    });
  }

  test('algorithm names are case-insensitive', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'ok.txt');
    const inputs = [{ source: `${base}/files/hello.txt`, destination, checksum: digest('sha256', HELLO), algorithm: 'sha256' }];
    await runAction(webDownload, inputs, makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
  });

  test('streams a large body and verifies it', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'big.bin');
    const inputs = [{ source: `${base}/files/big.bin`, destination, checksum: digest('sha512', BIG), algorithm: 'SHA512' }];
    await runAction(webDownload, inputs, makeContext(dir));
    assert.ok(BIG.equals(await readFile(destination)));
  });

  test('overwrite false refuses to replace an existing file', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'keep.txt');
    await writeFile(destination, 'original');
    await assert.rejects(
      runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination, overwrite: false }], makeContext(dir)),
      (err: Error) => err instanceof ActionFailure && /already exists/.test(err.message) && /overwrite/.test(err.message),
    );
    assert.equal(await readFile(destination, 'utf8'), 'original');
  });

  test('overwrite false still downloads when nothing is there', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'fresh.txt');
    await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination, overwrite: 'false' }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
  });

  test('overwrite true replaces an existing file', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'replace.txt');
    await writeFile(destination, 'old');
    await runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
  });

  test('an existing file with the expected checksum is not downloaded again', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'same.txt');
    await writeFile(destination, HELLO);
    const before = hits.get('/files/hello.txt') ?? 0;
    const inputs = [{ source: `${base}/files/hello.txt`, destination, checksum: digest('md5', HELLO), algorithm: 'MD5' }];
    await runAction(webDownload, inputs, makeContext(dir));
    assert.equal(hits.get('/files/hello.txt') ?? 0, before);
  });

  test('a 404 fails at once with the URL in the message', async (t) => {
    const dir = await scratchDir(t);
    const source = `${base}/missing.zip`;
    await assert.rejects(
      runAction(webDownload, [{ source, destination: join(dir, 'x.zip') }], makeContext(dir)),
      (err: Error) => err instanceof ActionFailure && err.message.includes(source) && /404/.test(err.message),
    );
    assert.equal(hits.get('/missing.zip'), 1);
    assert.deepEqual(await listing(dir), []);
  });

  test('statuses other than 200 are errors (204)', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(webDownload, [{ source: `${base}/no-content`, destination: join(dir, 'x') }], makeContext(dir)),
      /HTTP 204/,
    );
  });

  test('server errors are retried, up to 5 attempts', async (t) => {
    const dir = await scratchDir(t);
    flakyFailures = 2;
    const destination = join(dir, 'flaky.txt');
    await runAction(webDownload, [{ source: `${base}/flaky.txt`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
    assert.equal(hits.get('/flaky.txt'), 3);

    await assert.rejects(
      runAction(webDownload, [{ source: `${base}/always-500`, destination: join(dir, 'y') }], makeContext(dir)),
      /HTTP 500/,
    );
    assert.equal(hits.get('/always-500'), 5);
  });

  test('redirects are followed', async (t) => {
    const dir = await scratchDir(t);
    const destination = join(dir, 'r.txt');
    await runAction(webDownload, [{ source: `${base}/redirect`, destination }], makeContext(dir));
    assert.equal(await readFile(destination, 'utf8'), HELLO);
  });

  test('a connection failure names the URL', async (t) => {
    const dir = await scratchDir(t);
    // A port that was just free: nothing listens there, so the connection is refused (still loopback only).
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const source = `http://127.0.0.1:${port}/x`;
    const module = createWebDownload({ attempts: 2, retryDelayMs: 1 });
    await assert.rejects(
      runAction(module, [{ source, destination: join(dir, 'x') }], makeContext(dir)),
      (err: Error) => err.message.includes(source) && /ECONNREFUSED|fetch failed/.test(err.message),
    );
  });

  test('a folder destination needs a file name in the URL', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(webDownload, [{ source: `${base}/folder/`, destination: `${dir}/` }], makeContext(dir)),
      /cannot take a file name/,
    );
  });

  test('an existing folder as a file destination is refused', async (t) => {
    const dir = await scratchDir(t);
    await mkdir(join(dir, 'taken'));
    await assert.rejects(
      runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination: join(dir, 'taken') }], makeContext(dir)),
      /is a folder/,
    );
  });

  test('a destination that cannot be created fails at once, naming the URL', async (t) => {
    const dir = await scratchDir(t);
    await writeFile(join(dir, 'plain-file'), 'x');
    const source = `${base}/files/hello.txt`;
    await assert.rejects(
      runAction(webDownload, [{ source, destination: join(dir, 'plain-file', 'sub', 'x.txt') }], makeContext(dir)),
      (err: Error) => err instanceof ActionFailure && err.message.includes(source) && /cannot create folder/.test(err.message),
    );
  });

  test('an aborted step stops the download', async (t) => {
    const dir = await scratchDir(t);
    const controller = new AbortController();
    controller.abort();
    const context = makeContext(dir, { signal: controller.signal });
    await assert.rejects(runAction(webDownload, [{ source: `${base}/files/hello.txt`, destination: join(dir, 'a') }], context));
    assert.deepEqual(await listing(dir), []);
  });
});

describe('WebDownload over HTTPS with a self-signed certificate', () => {
  let tlsServer: https.Server | undefined;
  let tlsBase = '';
  let certDir = '';

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'kiln-tls-'));
    const dir = certDir;
    try {
      await promisify(execFile)('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      ]);
    } catch {
      return; // no openssl: the tests below skip themselves
    }
    tlsServer = https.createServer({ key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) }, handler);
    await new Promise<void>((resolve) => tlsServer?.listen(0, '127.0.0.1', resolve));
    tlsBase = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  });

  after(async () => {
    await rm(certDir, { recursive: true, force: true });
    if (tlsServer === undefined) return;
    tlsServer.closeAllConnections();
    await new Promise((resolve) => tlsServer?.close(resolve));
  });

  test('fails on the untrusted certificate by default', async (t) => {
    if (tlsServer === undefined) return t.skip('openssl is not available');
    const dir = await scratchDir(t);
    const source = `${tlsBase}/files/hello.txt`;
    const module = createWebDownload({ attempts: 1 });
    await assert.rejects(
      runAction(module, [{ source, destination: join(dir, 'x') }], makeContext(dir)),
      (err: Error) => err.message.includes(source) && /certificate/i.test(err.message),
    );
  });

  test('ignoreCertificateErrors downloads anyway, following redirects', async (t) => {
    if (tlsServer === undefined) return t.skip('openssl is not available');
    const dir = await scratchDir(t);
    const inputs = [
      { source: `${tlsBase}/files/hello.txt`, destination: `${dir}/`, ignoreCertificateErrors: true },
      { source: `${tlsBase}/redirect`, destination: join(dir, 'r.txt'), ignoreCertificateErrors: 'true' },
    ];
    await runAction(webDownload, inputs, makeContext(dir));
    assert.equal(await readFile(join(dir, 'hello.txt'), 'utf8'), HELLO);
    assert.equal(await readFile(join(dir, 'r.txt'), 'utf8'), HELLO);
  });

  test('ignoreCertificateErrors still fails on a 404 with the URL', async (t) => {
    if (tlsServer === undefined) return t.skip('openssl is not available');
    const dir = await scratchDir(t);
    const source = `${tlsBase}/nothing`;
    await assert.rejects(
      runAction(webDownload, [{ source, destination: join(dir, 'x'), ignoreCertificateErrors: true }], makeContext(dir)),
      (err: Error) => err.message.includes(source) && /404/.test(err.message),
    );
  });
});

describe('WebDownload input validation', () => {
  const paths = (inputs: unknown) => validateInputs(webDownload, inputs).map((i) => i.path);

  test('accepts the AWS documentation examples and templates', () => {
    assert.deepEqual(paths([{ source: 'https://testdomain/path/to/java14.zip', destination: 'C:\\testfolder\\package.zip' }]), []);
    assert.deepEqual(
      paths([
        {
          source: 'https://testdomain/path/to/java14.zip',
          destination: 'C:\\create_new_folder_and_add_java14_as_zip\\',
          checksum: 'ac68bbf921d953d1cfab916cb6120864',
          algorithm: 'MD5',
          overwrite: true,
        },
      ]),
      [],
    );
    assert.deepEqual(paths([{ source: '{{ Source }}', destination: '{{ build.X.outputs.stdout }}', overwrite: true }]), []);
  });

  test('reports each bad field by path', () => {
    assert.deepEqual(paths([{ destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 'ftp://host/file', destination: '/tmp/x' }]), ['inputs[0].source']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/tmp/x' }, { source: 'https://h/f' }]), ['inputs[1].destination']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', algorithm: 'SHA3' , checksum: 'ab' }]), ['inputs[0].algorithm']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', overwrite: 'maybe' }]), ['inputs[0].overwrite']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', colour: 'red' }]), ['inputs[0].colour']);
  });

  test('checksum and algorithm come together, with a digest of the right length', () => {
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', checksum: 'ab12' }]), ['inputs[0].algorithm']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', algorithm: 'MD5' }]), ['inputs[0].checksum']);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', algorithm: 'SHA256', checksum: digest('md5', 'x') }]), [
      'inputs[0].checksum',
    ]);
    assert.deepEqual(paths([{ source: 'https://h/f', destination: '/x', algorithm: 'SHA1', checksum: 'not-hex' }]), ['inputs[0].checksum']);
  });

  test('takes a list, not a single map, and at least one item', () => {
    assert.deepEqual(paths({ source: 'https://h/f', destination: '/x' }), ['inputs']);
    assert.deepEqual(paths([]), ['inputs']);
    assert.deepEqual(paths(undefined), ['inputs']);
  });

  test('run-time values are checked after substitution too', async (t) => {
    const dir = await scratchDir(t);
    await assert.rejects(
      runAction(webDownload, [{ source: 'https://h/f', destination: join(dir, 'x'), checksum: 'abcd' }], makeContext(dir)),
      /inputs\[0\]\.algorithm/,
    );
    // runAction coerces synchronously, so the failure is thrown rather than returned as a rejection.
    await assert.rejects(
      async () => runAction(webDownload, [{ source: 'file:///etc/passwd', destination: join(dir, 'x') }], makeContext(dir)),
      /inputs\[0\]\.source/,
    );
  });
});
