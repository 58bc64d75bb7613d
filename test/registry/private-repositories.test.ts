/**
 * The built-in registry does not tell outsiders whether a private repository exists: an account that may not
 * read a repository gets exactly what it gets for a missing one (status, code, message, detail) from manifests,
 * blobs, tags lists, upload sessions and deletes; an anonymous caller gets the same 401 challenge for both.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { digestOf } from '../../src/artifacts/blob-store.js';
import { startKilnRegistry, type KilnAccount, type KilnRegistry } from '../helpers/registry.js';

interface Answer {
  status: number;
  challenge: string | null;
  body: string;
}

async function call(kiln: KilnRegistry, path: string, method: string, as: KilnAccount | 'anonymous'): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (as !== 'anonymous') headers.authorization = `Basic ${Buffer.from(as.creds).toString('base64')}`;
  const res = await fetch(`${kiln.url}${path}`, { method, headers, ...(method === 'PATCH' || method === 'PUT' ? { body: 'x' } : {}) });
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: await res.text() };
}

/** The same request against a private repository and a missing one, with the names swapped out of the answer. */
async function both(kiln: KilnRegistry, template: string, method: string, as: KilnAccount | 'anonymous'): Promise<[Answer, Answer]> {
  const hidden = await call(kiln, template.replaceAll('REPO', 'team/secret'), method, as);
  const missing = await call(kiln, template.replaceAll('REPO', 'team/nothing'), method, as);
  return [{ ...hidden, body: hidden.body.replaceAll('team/secret', 'REPO') }, { ...missing, body: missing.body.replaceAll('team/nothing', 'REPO') }];
}

test('a private repository answers other accounts and anonymous callers exactly as a missing one does', async (t) => {
  const kiln = await startKilnRegistry(t);
  const stranger = await kiln.addAccount('stranger');
  const auth = { authorization: `Basic ${Buffer.from(kiln.admin.creds).toString('base64')}` };
  const data = Buffer.from('private layer');
  const digest = digestOf(data);
  assert.equal((await fetch(`${kiln.url}/v2/team/secret/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data, headers: auth })).status, 201);
  const session = await fetch(`${kiln.url}/v2/team/secret/blobs/uploads/`, { method: 'POST', headers: auth });
  const id = session.headers.get('docker-upload-uuid')!;
  assert.ok(id);

  const requests: [string, string][] = [
    ['/v2/REPO/manifests/latest', 'GET'],
    ['/v2/REPO/manifests/latest', 'HEAD'],
    [`/v2/REPO/manifests/${digest}`, 'DELETE'],
    [`/v2/REPO/blobs/${digest}`, 'GET'],
    [`/v2/REPO/blobs/${digest}`, 'HEAD'],
    [`/v2/REPO/blobs/${digest}`, 'DELETE'],
    ['/v2/REPO/tags/list', 'GET'],
    [`/v2/REPO/blobs/uploads/${id}`, 'GET'],
    [`/v2/REPO/blobs/uploads/${id}`, 'PATCH'],
    [`/v2/REPO/blobs/uploads/${id}?digest=${digest}`, 'PUT'],
    [`/v2/REPO/blobs/uploads/${id}`, 'DELETE'],
  ];
  for (const [path, method] of requests) {
    const [hidden, missing] = await both(kiln, path, method, stranger);
    assert.deepEqual(hidden, missing, `${method} ${path} as another account`);
    assert.equal(hidden.status, 404, `${method} ${path}`);
    if (method !== 'HEAD') assert.equal((JSON.parse(hidden.body) as { errors: { code: string }[] }).errors[0]?.code, 'NAME_UNKNOWN', `${method} ${path}`);
    const [anonHidden, anonMissing] = await both(kiln, path, method, 'anonymous');
    assert.deepEqual(anonHidden, anonMissing, `${method} ${path} anonymously`);
    assert.equal(anonHidden.status, 401);
    assert.equal(anonHidden.challenge, 'Basic realm="kiln"');
  }

  // Nothing was created by the probes, and the owner's session and data are untouched.
  assert.equal(await kiln.store.getRegistryRepository('team/nothing'), undefined);
  assert.equal((await call(kiln, `/v2/team/secret/blobs/uploads/${id}`, 'GET', kiln.admin)).status, 204);
  assert.equal((await call(kiln, `/v2/team/secret/blobs/${digest}`, 'GET', kiln.admin)).status, 200);
});
