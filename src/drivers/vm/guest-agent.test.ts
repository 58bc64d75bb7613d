// The qemu-ga wire protocol against a scripted unix socket server: framing, resync after stale bytes, errors,
// timeouts and a dying socket. The real agent is exercised by vm-instance.test.ts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { FILE_CHUNK_BYTES, GuestAgent, GuestAgentCommandError } from './guest-agent.js';

type Handler = (req: { execute: string; arguments?: Record<string, unknown>; id?: unknown }, reply: (data: string | Buffer) => void) => void;

/** A fake qemu-ga: parses the requests (0xFF bytes and newlines separate them) and lets `handler` answer. */
async function fakeAgent(t: TestContext, handler: Handler): Promise<{ socketPath: string; requests: string[]; clients: net.Socket[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-qga-'));
  const socketPath = path.join(dir, 'qga.sock');
  const requests: string[] = [];
  const clients: net.Socket[] = [];
  const server = net.createServer((sock) => {
    clients.push(sock);
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1').replace(/\xff/g, '\n');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const req = JSON.parse(Buffer.from(line, 'latin1').toString('utf8')) as Parameters<Handler>[0];
        requests.push(req.execute);
        handler(req, (data) => sock.write(data));
      }
    });
    sock.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.after(async () => {
    for (const c of clients) c.destroy();
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { socketPath, requests, clients };
}

/** Answers guest-sync-delimited as qemu-ga does (0xFF first), echoes ids, and hands the rest to `rest`. */
function withSync(rest: Handler): Handler {
  return (req, reply) => {
    if (req.execute === 'guest-sync-delimited') return reply(Buffer.concat([Buffer.from([0xff]), Buffer.from(`${JSON.stringify({ return: req.arguments!.id })}\n`)]));
    rest(req, reply);
  };
}

const answer = (req: { id?: unknown }, value: unknown) => `${JSON.stringify({ return: value, ...(req.id === undefined ? {} : { id: req.id }) })}\n`;

test('sync discards stale bytes before the delimiter; calls get their own answers', async (t) => {
  const { socketPath, requests } = await fakeAgent(t, (req, reply) => {
    if (req.execute === 'guest-sync-delimited') {
      // Leftovers of an earlier session, an old sync's answer, then the real one split over two writes.
      reply('{"return": {"half');
      reply(Buffer.concat([Buffer.from([0xff]), Buffer.from('{"return": 12345}\n'), Buffer.from([0xff]), Buffer.from('{"ret')]));
      setTimeout(() => reply(`urn": ${String(req.arguments!.id)}}\n`), 20);
      return;
    }
    if (req.execute === 'guest-ping') return reply(answer(req, {}));
    if (req.execute === 'guest-info') return reply(`${JSON.stringify({ return: { version: '7.2' } })}\n`); // no id echoed: still accepted
    reply(`${JSON.stringify({ error: { class: 'CommandNotFound', desc: `The command ${req.execute} has not been found` }, id: req.id })}\n`);
  });
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  await agent.sync({ timeoutMs: 2000 });
  await agent.ping({ timeoutMs: 2000 });
  assert.deepEqual(await agent.call('guest-info', undefined, { timeoutMs: 2000 }), { version: '7.2' });
  await assert.rejects(agent.call('guest-nope', {}, { timeoutMs: 2000 }), (err: unknown) => {
    assert.ok(err instanceof GuestAgentCommandError);
    assert.equal(err.errorClass, 'CommandNotFound');
    assert.match(err.message, /guest-nope/);
    return true;
  });
  assert.deepEqual(requests, ['guest-sync-delimited', 'guest-ping', 'guest-info', 'guest-nope']);
});

test('a call without an answer times out, and its late answer is not taken for the next call', async (t) => {
  let slowReply: (() => void) | undefined;
  const { socketPath, requests } = await fakeAgent(t, withSync((req, reply) => {
    if (req.execute === 'guest-get-time') {
      slowReply = () => reply(answer(req, 111));
      return;
    }
    if (req.execute === 'guest-get-host-name') {
      slowReply?.(); // the stale answer arrives first
      reply(answer(req, { 'host-name': 'vm' }));
    }
  }));
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  await assert.rejects(agent.call('guest-get-time', undefined, { timeoutMs: 200 }), (err: unknown) => isKilnError(err, 'Unavailable') && /no answer within 200 ms/.test((err as Error).message));
  assert.deepEqual(await agent.call('guest-get-host-name', undefined, { timeoutMs: 2000 }), { 'host-name': 'vm' });
  // A resync was sent before the next call.
  assert.deepEqual(requests, ['guest-sync-delimited', 'guest-get-time', 'guest-sync-delimited', 'guest-get-host-name']);
});

test('abort rejects with Cancelled; a closed socket rejects the pending call and every later one', async (t) => {
  const { socketPath, clients } = await fakeAgent(t, withSync(() => undefined));
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(agent.ping({ signal: ac.signal, timeoutMs: 5000 }), (err: unknown) => isKilnError(err, 'Cancelled'));
  const pending = agent.ping({ timeoutMs: 5000 });
  setTimeout(() => clients[0]!.destroy(), 50);
  await assert.rejects(pending, (err: unknown) => isKilnError(err, 'Unavailable') && /closed/.test((err as Error).message));
  assert.equal(agent.closed, true);
  await assert.rejects(agent.ping({ timeoutMs: 5000 }), (err: unknown) => isKilnError(err, 'Unavailable'));
});

test('files move in base64 chunks; exec and exec-status decode output', async (t) => {
  const files = new Map<number, Buffer>();
  let stored = Buffer.alloc(0);
  const { socketPath } = await fakeAgent(t, withSync((req, reply) => {
    const a = req.arguments ?? {};
    switch (req.execute) {
      case 'guest-file-open':
        if (a.path === '/missing') return reply(`${JSON.stringify({ error: { class: 'GenericError', desc: "failed to open file '/missing' (mode: 'r'): No such file or directory" }, id: req.id })}\n`);
        files.set(7, a.mode === 'r' ? stored : Buffer.alloc(0));
        return reply(answer(req, 7));
      case 'guest-file-write': {
        const data = Buffer.from(a['buf-b64'] as string, 'base64');
        assert.ok(data.length <= FILE_CHUNK_BYTES);
        stored = Buffer.concat([stored, data]);
        return reply(answer(req, { count: data.length, eof: false }));
      }
      case 'guest-file-read': {
        const data = files.get(7)!;
        const chunk = data.subarray(0, a.count as number);
        files.set(7, data.subarray(chunk.length));
        return reply(answer(req, { count: chunk.length, 'buf-b64': chunk.toString('base64'), eof: files.get(7)!.length === 0 }));
      }
      case 'guest-file-close':
        return reply(answer(req, {}));
      case 'guest-exec':
        assert.deepEqual(a, { path: '/bin/echo', arg: ['hi'], env: ['A=1'], 'input-data': Buffer.from('in').toString('base64'), 'capture-output': true });
        return reply(answer(req, { pid: 42 }));
      case 'guest-exec-status':
        return reply(answer(req, { exited: true, exitcode: 0, 'out-data': Buffer.from('hi\n').toString('base64'), 'err-data': '' }));
    }
  }));
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  const data = Buffer.alloc(2 * FILE_CHUNK_BYTES + 17, 0xab);
  await agent.writeFile('/x', data, 'w', { timeoutMs: 5000 });
  assert.ok(stored.equals(data));
  assert.ok((await agent.readFile('/x', { timeoutMs: 5000 })).equals(data));
  await assert.rejects(agent.readFile('/missing', { timeoutMs: 5000 }), (err: unknown) => err instanceof GuestAgentCommandError && /No such file/.test(err.desc));
  const pid = await agent.exec({ path: '/bin/echo', arg: ['hi'], env: ['A=1'], input: Buffer.from('in') }, { timeoutMs: 5000 });
  assert.equal(pid, 42);
  const st = await agent.execStatus(pid, { timeoutMs: 5000 });
  assert.deepEqual([st.exited, st.exitcode, st.stdout.toString(), st.stderr.length, st.truncated], [true, 0, 'hi\n', 0, false]);
});

test('guest-shutdown: silence is success, an error answer rejects', async (t) => {
  let refuse = true;
  const { socketPath } = await fakeAgent(t, withSync((req, reply) => {
    if (req.execute === 'guest-shutdown' && refuse) reply(`${JSON.stringify({ error: { class: 'GenericError', desc: 'child process has failed to shutdown' }, id: req.id })}\n`);
  }));
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  await assert.rejects(agent.shutdown('powerdown', { answerWindowMs: 2000 }), (err: unknown) => err instanceof GuestAgentCommandError && /failed to shutdown/.test(err.desc));
  refuse = false;
  const started = Date.now();
  await agent.shutdown('reboot', { answerWindowMs: 200 });
  assert.ok(Date.now() - started >= 150);
});

test('a file handle that cannot be closed after a failed read or write is named on the error, not dropped', async (t) => {
  const { socketPath, requests } = await fakeAgent(t, withSync((req, reply) => {
    const fail = (desc: string) => reply(`${JSON.stringify({ error: { class: 'GenericError', desc }, id: req.id })}\n`);
    switch (req.execute) {
      case 'guest-file-open':
        return reply(answer(req, 9));
      case 'guest-file-read':
        return fail('read error: EIO');
      case 'guest-file-write':
        return fail('write error: ENOSPC');
      case 'guest-file-close':
        return fail('close error: bad handle');
    }
  }));
  const agent = await GuestAgent.connect(socketPath);
  t.after(() => agent.close());
  await assert.rejects(agent.readFile('/x', { timeoutMs: 5000 }), (err: unknown) => err instanceof GuestAgentCommandError && /EIO/.test(err.message) && /releasing file handle 9 of \/x in the guest failed.*bad handle/.test(err.message));
  await assert.rejects(agent.writeFile('/y', Buffer.from('data'), 'w', { timeoutMs: 5000 }), (err: unknown) => /ENOSPC/.test(String(err)) && /file handle 9 of \/y/.test(String(err)));
  assert.equal(requests.filter((r) => r === 'guest-file-close').length, 2, 'each handle is closed once on the failure path');
});
