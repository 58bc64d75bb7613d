/**
 * Signed GetComponent and ListComponents throughput and p99 latency, 16 concurrent stock SDK clients against a
 * `kiln serve` child process, and the same clients against a minimal Node HTTP server (also a child process)
 * that answers a fixed JSON body: the ratio is Kiln's own cost. Targets: >= 2,000 signed GetComponent/s and
 * p99 < 20 ms. Bounded: REQUESTS per phase (default 4000), loopback only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CreateComponentCommand, GetComponentCommand, ImagebuilderClient, ListComponentsCommand } from '@aws-sdk/client-imagebuilder';
import { drive, keepAliveClient, type DriveResult } from './drive.js';

const CLIENTS = 16;
const REQUESTS = Number(process.env.REQUESTS ?? 4000);

function waitForLine(child: ChildProcess, re: RegExp): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += String(c);
      const m = re.exec(out);
      if (m) res(m);
    });
    child.on('exit', (code) => rej(new Error(`exited ${code}: ${out}`)));
  });
}

const dataDir = await mkdtemp(join(tmpdir(), 'kiln-bench-api-'));
const children: ChildProcess[] = [];
try {
  const kiln = spawn('node', [resolve('bin/kiln'), 'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, KILN_PREFETCH_BASES: '0' } });
  children.push(kiln);
  const [, endpoint] = await waitForLine(kiln, /API at (http:\/\/\S+)/);
  const text = await readFile(join(dataDir, 'credentials'), 'utf8');
  const creds = {
    accessKeyId: /aws_access_key_id\s*=\s*(\S+)/.exec(text)![1]!,
    secretAccessKey: /aws_secret_access_key\s*=\s*(\S+)/.exec(text)![1]!,
  };
  const setup = keepAliveClient(endpoint!, creds);
  const data = 'schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: S\n        action: ExecuteBash\n        inputs:\n          commands: [echo hi]\n';
  const created = await setup.send(new CreateComponentCommand({ name: 'bench', semanticVersion: '1.0.0', platform: 'Linux', data, clientToken: 'bench-1' }));
  for (let i = 0; i < 20; i++) {
    await setup.send(new CreateComponentCommand({ name: `bench-${i}`, semanticVersion: '1.0.0', platform: 'Linux', data, clientToken: `bench-x-${i}` }));
  }
  const arn = created.componentBuildVersionArn!;

  const fixed = JSON.stringify({ requestId: 'r', component: { arn, name: 'bench', version: '1.0.0', platform: 'Linux', type: 'BUILD', data } });
  const baselineCode = `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(200,{'content-type':'application/json'});s.end(${JSON.stringify(fixed)});});}).listen(0,'127.0.0.1',function(){console.log('PORT '+this.address().port)})`;
  const base = spawn('node', ['-e', baselineCode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(base);
  const [, port] = await waitForLine(base, /PORT (\d+)/);

  const kilnClients = Array.from({ length: CLIENTS }, () => keepAliveClient(endpoint!, creds));
  const baseClients = Array.from({ length: CLIENTS }, () => keepAliveClient(`http://127.0.0.1:${port}`, creds));
  const get = (c: ImagebuilderClient) => c.send(new GetComponentCommand({ componentBuildVersionArn: arn }));
  const list = (c: ImagebuilderClient) => c.send(new ListComponentsCommand({ maxResults: 25 }));
  await drive(kilnClients, REQUESTS, get); // warm-up: JIT, connections
  await drive(baseClients, REQUESTS, get);
  const rows: [string, DriveResult, DriveResult][] = [];
  rows.push(['GetComponent', await drive(kilnClients, REQUESTS, get), await drive(baseClients, REQUESTS, get)]);
  rows.push(['ListComponents', await drive(kilnClients, REQUESTS, list), await drive(baseClients, REQUESTS, get)]);
  console.log(`${CLIENTS} concurrent signed SDK clients, ${REQUESTS} requests per run`);
  for (const [name, k, b] of rows) {
    console.log(
      `${name.padEnd(15)} kiln ${k.rps.toFixed(0).padStart(5)} req/s p50 ${k.p50.toFixed(1)} ms p99 ${k.p99.toFixed(1)} ms | ` +
        `baseline ${b.rps.toFixed(0).padStart(5)} req/s p99 ${b.p99.toFixed(1)} ms | kiln/baseline throughput ${(k.rps / b.rps).toFixed(2)}`,
    );
  }
  [...kilnClients, ...baseClients, setup].forEach((c) => c.destroy());
} finally {
  // Kiln drains and releases what it holds before it exits; only then is its data directory free to delete.
  await Promise.all(children.map((c) => new Promise((done) => (c.exitCode !== null || c.signalCode !== null ? done(undefined) : (c.once('exit', done), c.kill('SIGTERM'))))));
  await rm(dataDir, { recursive: true, force: true });
}
