import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isKilnError } from '../../domain/errors.js';
import type { NewResource, Store } from '../store.js';

/** Opens a fresh, empty store for one test; `close` releases it and anything it left behind. */
export type StoreFactory = () => Promise<{ store: Store; close: () => Promise<void> }>;

function component(overrides: Partial<NewResource> = {}): NewResource {
  const base: NewResource = {
    accountId: '111122223333',
    region: 'local',
    type: 'component',
    name: 'hello',
    version: '1.0.0',
    arn: '',
    data: { platform: 'Linux' },
    build: 'first',
    ...overrides,
  };
  base.arn ||= `arn:aws:imagebuilder:${base.region}:${base.accountId}:${base.type}/${base.name}/${base.version}`;
  return base;
}

/**
 * The Store conformance suite: every backend must pass it unchanged. Each test opens its own store from the
 * factory, so backends can use a temp database per test. `skip` names why the backend cannot run here.
 */
export function runStoreSuite(backend: string, open: StoreFactory, options: { skip?: string } = {}): void {
  const withStore = (name: string, fn: (store: Store) => Promise<void>): void =>
    void test(name, async () => {
      const { store, close } = await open();
      try {
        await fn(store);
      } finally {
        await close();
      }
    });

  void describe(`Store conformance: ${backend}`, { skip: options.skip ?? false }, () => {
    withStore('creates accounts with a first access key and lists them', async (store) => {
      const { account, key } = await store.createAccount({ name: 'admin', admin: true, accountId: '000000000001', accessKeyId: 'AKIAAAAAAAAAAAAAAAA1', secretAccessKey: 's1' });
      assert.equal(account.admin, true);
      assert.equal(key.secretAccessKey, 's1');
      await store.createAccount({ name: 'dev', accountId: '000000000002', accessKeyId: 'AKIAAAAAAAAAAAAAAAA2', secretAccessKey: 's2' });
      const accounts = await store.listAccounts();
      assert.deepEqual(accounts.map((a) => [a.accountId, a.name, a.admin]), [['000000000001', 'admin', true], ['000000000002', 'dev', false]]);
      assert.equal((await store.getAccount('000000000002'))?.name, 'dev');
      assert.equal(await store.getAccount('999999999999'), undefined);
    });

    withStore('refuses a duplicate account id or access key id', async (store) => {
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 's' });
      await assert.rejects(store.createAccount({ name: 'b', accountId: '000000000001', accessKeyId: 'AK2', secretAccessKey: 's' }), (e) => isKilnError(e, 'AlreadyExists'));
      await assert.rejects(store.createAccount({ name: 'c', accountId: '000000000003', accessKeyId: 'AK1', secretAccessKey: 's' }), (e) => isKilnError(e, 'AlreadyExists'));
      // The failed account must not be half-written.
      assert.equal(await store.getAccount('000000000003'), undefined);
    });

    withStore('returns the secret of a known access key and nothing for an unknown one', async (store) => {
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 'first/secret+1' });
      await store.addAccessKey('000000000001', 'AK2', 'second');
      assert.deepEqual(await store.getAccessKeySecret('AK1'), { accountId: '000000000001', secretAccessKey: 'first/secret+1' });
      assert.equal((await store.getAccessKeySecret('AK2'))?.secretAccessKey, 'second');
      assert.equal(await store.getAccessKeySecret('AK3'), undefined);
      assert.deepEqual((await store.listAccessKeys('000000000001')).map((k) => k.accessKeyId).sort(), ['AK1', 'AK2']);
      await assert.rejects(store.addAccessKey('999999999999', 'AK9', 's'), (e) => isKilnError(e, 'NotFound'));
    });

    withStore('lists keys with their status and last use; an inactive key has no secret until enabled again', async (store) => {
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 's1' });
      const added = await store.addAccessKey('000000000001', 'AK2', 's2');
      assert.equal(added.status, 'Active');
      assert.equal(added.lastUsedAt, undefined);
      const listed = await store.listAccessKeys('000000000001');
      assert.deepEqual(listed.map((k) => [k.accessKeyId, k.status, k.lastUsedAt]), [['AK1', 'Active', undefined], ['AK2', 'Active', undefined]]);
      assert.ok(listed.every((k) => !('secretAccessKey' in k)), 'listings never carry secrets');

      const disabled = await store.setAccessKeyStatus('AK1', 'Inactive');
      assert.deepEqual([disabled.accessKeyId, disabled.accountId, disabled.status], ['AK1', '000000000001', 'Inactive']);
      assert.equal(await store.getAccessKeySecret('AK1'), undefined, 'an inactive key does not authenticate');
      assert.equal((await store.getAccessKeySecret('AK2'))?.secretAccessKey, 's2', 'other keys are untouched');
      assert.deepEqual((await store.listAccessKeys('000000000001')).map((k) => k.status), ['Inactive', 'Active']);
      assert.equal((await store.setAccessKeyStatus('AK1', 'Inactive')).status, 'Inactive', 'a repeat is a no-op');

      await store.setAccessKeyStatus('AK1', 'Active');
      assert.deepEqual(await store.getAccessKeySecret('AK1'), { accountId: '000000000001', secretAccessKey: 's1' });
      await assert.rejects(store.setAccessKeyStatus('AK9', 'Inactive'), (e) => isKilnError(e, 'NotFound') && /AK9/.test((e as Error).message));
      assert.deepEqual(await store.listAccessKeys('999999999999'), []);
    });

    withStore('deletes a key for good', async (store) => {
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 's1' });
      await store.addAccessKey('000000000001', 'AK2', 's2');
      assert.equal(await store.deleteAccessKey('AK1'), true);
      assert.equal(await store.deleteAccessKey('AK1'), false);
      assert.equal(await store.getAccessKeySecret('AK1'), undefined);
      assert.deepEqual((await store.listAccessKeys('000000000001')).map((k) => k.accessKeyId), ['AK2']);
      // The account keeps its other keys and itself; the id may not come back with another secret by accident.
      assert.equal((await store.getAccount('000000000001'))?.name, 'a');
      await store.addAccessKey('000000000001', 'AK1', 'new');
      assert.equal((await store.getAccessKeySecret('AK1'))?.secretAccessKey, 'new');
    });

    withStore('records a key\'s last use, never moving it back, and ignores unknown keys', async (store) => {
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 's1' });
      await store.addAccessKey('000000000001', 'AK2', 's2');
      const lastUse = async (id: string) => (await store.listAccessKeys('000000000001')).find((k) => k.accessKeyId === id)?.lastUsedAt;
      await store.recordAccessKeyUse('AK1', '2026-03-01T10:00:00.000Z');
      assert.equal(await lastUse('AK1'), '2026-03-01T10:00:00.000Z');
      assert.equal(await lastUse('AK2'), undefined);
      await store.recordAccessKeyUse('AK1', '2026-03-01T09:00:00.000Z');
      assert.equal(await lastUse('AK1'), '2026-03-01T10:00:00.000Z', 'an older use does not overwrite a newer one');
      await store.recordAccessKeyUse('AK1', '2026-03-01T10:05:00.000Z');
      assert.equal(await lastUse('AK1'), '2026-03-01T10:05:00.000Z');
      await store.recordAccessKeyUse('AK9', '2026-03-01T10:05:00.000Z');
      // Disabling keeps the record of use: that is what tells an admin whether a key is still needed.
      await store.setAccessKeyStatus('AK1', 'Inactive');
      assert.equal(await lastUse('AK1'), '2026-03-01T10:05:00.000Z');
    });

    withStore('keeps the first signing key of an account, sealed, and answers it to every racer', async (store) => {
      assert.equal(await store.getSigningKey('000000000001'), undefined);
      const pem = (n: number) => ({ accountId: '000000000001', privateKeyPem: `-----BEGIN PRIVATE KEY-----\nkey${n}\n-----END PRIVATE KEY-----\n`, publicKeyPem: `public ${n}` });
      const racers = await Promise.all([1, 2, 3].map((n) => store.addSigningKey(pem(n))));
      const winner = racers[0]!;
      assert.ok(racers.every((r) => r.privateKeyPem === winner.privateKeyPem && r.publicKeyPem === winner.publicKeyPem), 'every racer gets the one key stored');
      assert.match(winner.publicKeyPem, /^public [123]$/);
      assert.equal(winner.privateKeyPem, pem(Number(winner.publicKeyPem.slice(-1))).privateKeyPem);
      const later = await store.addSigningKey(pem(9));
      assert.equal(later.publicKeyPem, winner.publicKeyPem, 'a stored key is never replaced');
      assert.deepEqual(await store.getSigningKey('000000000001'), winner);
      assert.equal(await store.getSigningKey('000000000002'), undefined);
    });

    withStore('creates, gets and deletes a resource', async (store) => {
      const { record, created } = await store.createResource(component());
      assert.equal(created, true);
      assert.equal(record.arn, 'arn:aws:imagebuilder:local:111122223333:component/hello/1.0.0/1');
      assert.equal(record.build, 1);
      assert.deepEqual((await store.getResource(record.arn))?.data, { platform: 'Linux' });
      assert.equal(await store.deleteResource(record.arn), true);
      assert.equal(await store.deleteResource(record.arn), false);
      assert.equal(await store.getResource(record.arn), undefined);
    });

    withStore('build "first" refuses an existing version; "assign" numbers builds; "none" keeps the ARN', async (store) => {
      await store.createResource(component());
      await assert.rejects(store.createResource(component()), (e) => isKilnError(e, 'AlreadyExists'));
      const a = await store.createResource(component({ type: 'image', build: 'assign' }));
      const b = await store.createResource(component({ type: 'image', build: 'assign' }));
      assert.deepEqual([a.record.build, b.record.build], [1, 2]);
      const plain = await store.createResource(component({ type: 'infrastructure-configuration', version: '', build: 'none', arn: 'arn:x:infra/a' }));
      assert.equal(plain.record.arn, 'arn:x:infra/a');
      await assert.rejects(store.createResource(component({ type: 'infrastructure-configuration', version: '', build: 'none', arn: 'arn:x:infra/a' })), (e) => isKilnError(e, 'AlreadyExists'));
    });

    withStore('lists by name, then numeric version, then build, within one account and region', async (store) => {
      for (const [name, version] of [['b', '1.10.0'], ['b', '1.2.0'], ['a', '2.0.0'], ['b', '1.2.10']] as const) {
        await store.createResource(component({ name, version }));
      }
      await store.createResource(component({ name: 'a', version: '1.0.0', accountId: '999999999999' }));
      await store.createResource(component({ name: 'a', version: '1.0.0', region: 'other' }));
      const all = await store.listResources({ accountId: '111122223333', region: 'local', type: 'component' });
      assert.deepEqual(all.map((r) => `${r.name}@${r.version}`), ['a@2.0.0', 'b@1.2.0', 'b@1.2.10', 'b@1.10.0']);
      const b = await store.listResources({ accountId: '111122223333', region: 'local', type: 'component', name: 'b', version: '1.2.0' });
      assert.deepEqual(b.map((r) => r.version), ['1.2.0']);
    });

    withStore('a repeated client token returns the first result; another input is a mismatch', async (store) => {
      const key = { operation: 'CreateComponent', token: 't-1', inputHash: 'h1' };
      const first = await store.createResource(component(), key);
      const again = await store.createResource(component(), key);
      assert.equal(again.created, false);
      assert.deepEqual(again.record, first.record);
      await assert.rejects(store.createResource(component({ version: '2.0.0' }), { ...key, inputHash: 'h2' }), (e) => isKilnError(e, 'IdempotencyMismatch'));
      // The answer survives the resource's deletion, as AWS's idempotency window does.
      await store.deleteResource(first.record.arn);
      assert.equal((await store.createResource(component(), key)).record.arn, first.record.arn);
    });

    withStore('50 concurrent creates with one token make exactly one resource', async (store) => {
      const key = { operation: 'CreateImage', token: 'same', inputHash: 'h' };
      const results = await Promise.all(Array.from({ length: 50 }, () => store.createResource(component({ type: 'image', build: 'assign' }), key)));
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.record.arn)).size, 1);
      assert.equal((await store.listResources({ accountId: '111122223333', region: 'local', type: 'image' })).length, 1);
    });

    withStore('updates replace data atomically, keep identity, and honour client tokens', async (store) => {
      const { record } = await store.createResource(component({ type: 'image-pipeline', version: '', build: 'none' }));
      const key = { operation: 'UpdateImagePipeline', token: 'u-1', inputHash: 'h1' };
      const updated = await store.updateResource(record.arn, (cur) => ({ ...cur.data, status: 'DISABLED' }), key);
      assert.deepEqual(updated.data, { platform: 'Linux', status: 'DISABLED' });
      assert.equal(updated.createdAt, record.createdAt);
      assert.deepEqual((await store.getResource(record.arn))?.data, updated.data);
      // The same token again changes nothing, even when the change would now differ.
      const again = await store.updateResource(record.arn, () => ({ status: 'ENABLED' }), key);
      assert.deepEqual(again.data, updated.data);
      await assert.rejects(store.updateResource(record.arn, () => ({}), { ...key, inputHash: 'h2' }), (e) => isKilnError(e, 'IdempotencyMismatch'));
      await assert.rejects(store.updateResource(`${record.arn}-missing`, () => ({})), (e) => isKilnError(e, 'NotFound'));
      // A change that throws leaves the stored data as it was.
      await assert.rejects(store.updateResource(record.arn, () => { throw new Error('refused'); }), /refused/);
      assert.deepEqual((await store.getResource(record.arn))?.data, updated.data);
    });

    withStore('resource policies grant resources to accounts, and go with the resource', async (store) => {
      const mine = await store.createResource(component({ name: 'shared' }));
      await store.createResource(component({ name: 'private' }));
      const other = await store.createResource(component({ name: 'theirs', accountId: '444455556666' }));
      await store.putResourcePolicy(mine.record.arn, '{"Version":"2012-10-17"}', ['999999999999']);
      await store.putResourcePolicy(other.record.arn, '{"v":2}', ['*']);
      assert.equal(await store.getResourcePolicy(mine.record.arn), '{"Version":"2012-10-17"}');
      const granted = await store.listGrantedResources({ grantee: '999999999999', region: 'local', type: 'component' });
      assert.deepEqual(granted.map((r) => r.name), ['shared', 'theirs']);
      // An owner never sees its own resources as granted to it.
      assert.deepEqual((await store.listGrantedResources({ grantee: '444455556666', region: 'local', type: 'component' })).map((r) => r.name), []);
      // Replacing the policy replaces the grants.
      await store.putResourcePolicy(mine.record.arn, '{}', []);
      assert.deepEqual((await store.listGrantedResources({ grantee: '999999999999', region: 'local', type: 'component' })).map((r) => r.name), ['theirs']);
      await store.deleteResource(other.record.arn);
      assert.equal(await store.getResourcePolicy(other.record.arn), undefined);
      assert.deepEqual(await store.listGrantedResources({ grantee: '999999999999', region: 'local', type: 'component' }), []);
      await assert.rejects(store.putResourcePolicy('arn:missing', '{}', []), (e) => isKilnError(e, 'NotFound'));
    });

    withStore('jobs: created with their resource, leased once, renewed, finished, re-leased after expiry', async (store) => {
      const { record } = await store.createResource(component({ type: 'image', build: 'assign' }), undefined, { enqueue: 'build-image' });
      const [job] = await store.listJobs({ resourceArn: record.arn });
      assert.equal(job?.state, 'queued');
      assert.equal(job?.kind, 'build-image');
      assert.equal(await store.leaseJob(['other-kind'], 'w1', 1000), undefined);
      const leases = await Promise.all([store.leaseJob(['build-image'], 'w1', 60_000), store.leaseJob(['build-image'], 'w2', 60_000)]);
      assert.equal(leases.filter(Boolean).length, 1, 'one worker gets the job');
      const lease = leases.find(Boolean)!;
      assert.equal(lease.attempts, 1);
      assert.equal(await store.renewJob(lease.id, 'someone-else', 1000), false);
      assert.equal(await store.renewJob(lease.id, lease.leaseOwner!, 60_000), true);
      assert.equal(await store.finishJob(lease.id, 'someone-else', 'done'), false);
      assert.equal(await store.finishJob(lease.id, lease.leaseOwner!, 'done'), true);
      assert.equal((await store.listJobs({ state: 'done' })).length, 1);

      const expiring = await store.enqueueJob('build-image', 'arn:x');
      const first = await store.leaseJob(['build-image'], 'crashed-worker', 1);
      assert.equal(first?.id, expiring.id);
      await new Promise((r) => setTimeout(r, 20));
      const second = await store.leaseJob(['build-image'], 'w3', 60_000);
      assert.equal(second?.id, expiring.id, 'an expired lease is taken over');
      assert.equal(second?.attempts, 2);
      assert.equal(second?.previousOwner, 'crashed-worker', 'a job leased again names who held it before');
      assert.equal(first?.previousOwner, undefined);
      assert.equal(await store.finishJob(expiring.id, 'crashed-worker', 'done'), false, 'the old owner lost it');

      const queued = await store.enqueueJob('build-image', 'arn:y');
      assert.equal(await store.finishJob(queued.id, undefined, 'cancelled'), true);
      assert.equal(await store.leaseJob(['build-image'], 'w4', 1000), undefined);
    });

    withStore('concurrent read-modify-write updates lose nothing', async (store) => {
      const { record } = await store.createResource(component({ type: 'counter', version: '', build: 'none', data: { n: 0 } }));
      await Promise.all(Array.from({ length: 40 }, () => store.updateResource(record.arn, (cur) => ({ n: (cur.data.n as number) + 1 }))));
      assert.equal((await store.getResource(record.arn))?.data.n, 40);
    });
    withStore('event log: image creates and status changes are logged with the write, numbered in order; nothing else is', async (store) => {
      const image = (name: string): NewResource =>
        component({ type: 'image', name, build: 'assign', data: { state: { status: 'PENDING' } }, arn: `arn:aws:imagebuilder:local:111122223333:image/${name}/1.0.0` });
      const setStatus = (status: string, reason?: string) => (c: { data: Record<string, unknown> }) => ({ ...c.data, state: { status, ...(reason ? { reason } : {}) } });
      assert.equal(await store.lastEventSeq(), 0);
      assert.deepEqual(await store.eventsAfter(0, 10), []);
      const { record: a } = await store.createResource(image('a'));
      await store.createResource(component());
      await store.updateResource(a.arn, setStatus('CREATING'));
      await store.updateResource(a.arn, (c) => ({ ...c.data, note: 'same status' }));
      // A change that throws inside the transaction, and an idempotent repeat, log nothing.
      await assert.rejects(
        store.updateResource(a.arn, () => {
          throw new Error('refused');
        }),
        /refused/,
      );
      const key = { operation: 'CancelImageCreation', token: 't', inputHash: 'h' };
      await store.updateResource(a.arn, setStatus('CANCELLED', 'by request'), key);
      await store.updateResource(a.arn, setStatus('CANCELLED', 'by request'), key);
      const { record: b } = await store.createResource(image('b'));
      await store.updateResources([
        { arn: b.arn, change: setStatus('CREATING') },
        { arn: a.arn, change: () => undefined },
      ]);

      const events = await store.eventsAfter(0, 100);
      assert.deepEqual(
        events.map((e) => [e.arn, e.previousStatus, e.status, e.reason]),
        [
          [a.arn, undefined, 'PENDING', undefined],
          [a.arn, 'PENDING', 'CREATING', undefined],
          [a.arn, 'CREATING', 'CANCELLED', 'by request'],
          [b.arn, undefined, 'PENDING', undefined],
          [b.arn, 'PENDING', 'CREATING', undefined],
        ],
      );
      assert.ok(events.every((e, i) => i === 0 || e.seq > events[i - 1]!.seq), 'numbers increase');
      assert.ok(events.every((e) => e.accountId === '111122223333' && e.region === 'local' && !Number.isNaN(Date.parse(e.time))));
      assert.equal(await store.lastEventSeq(), events[4]!.seq);
      assert.deepEqual((await store.eventsAfter(events[1]!.seq, 2)).map((e) => e.seq), [events[2]!.seq, events[3]!.seq]);

      // Pruning keeps the newest events (and so the last number); a repeat deletes nothing more.
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(await store.pruneEvents(60_000, 1), 0, 'nothing is a minute old');
      assert.equal(await store.pruneEvents(0, 2), 3);
      assert.equal(await store.pruneEvents(0, 2), 0);
      assert.deepEqual((await store.eventsAfter(0, 100)).map((e) => e.seq), [events[3]!.seq, events[4]!.seq]);
      assert.equal(await store.pruneEvents(0, 0), 1, 'the newest event always stays');
      assert.equal(await store.lastEventSeq(), events[4]!.seq);
    });

    withStore('event log: a reader polling during concurrent changes never misses one committed behind its cursor', async (store) => {
      const arns: string[] = [];
      for (let i = 0; i < 8; i++) {
        const name = `img${i}`;
        arns.push((await store.createResource(component({ type: 'image', name, build: 'assign', data: { state: { status: 'PENDING' } }, arn: `arn:aws:imagebuilder:local:111122223333:image/${name}/1.0.0` }))).record.arn);
      }
      let cursor = await store.lastEventSeq();
      const seen: number[] = [];
      let writing = true;
      const poller = (async () => {
        while (writing) {
          for (const e of await store.eventsAfter(cursor, 1000)) {
            seen.push(e.seq);
            cursor = e.seq;
          }
        }
      })();
      await Promise.all(
        arns.map(async (arn) => {
          for (const status of ['CREATING', 'BUILDING', 'AVAILABLE']) await store.updateResource(arn, (c) => ({ ...c.data, state: { status } }));
        }),
      );
      writing = false;
      await poller;
      for (const e of await store.eventsAfter(cursor, 1000)) seen.push(e.seq);
      const all = (await store.eventsAfter(0, 1000)).filter((e) => e.previousStatus !== undefined).map((e) => e.seq);
      assert.equal(all.length, 24);
      assert.deepEqual(seen, all);
    });

    withStore('outbox: idempotent enqueue, exclusive leases, settling, expiry, hand-back, the shared cursor, pruning', async (store) => {
      assert.equal(await store.enqueueDeliveries([]), 0);
      assert.equal(
        await store.enqueueDeliveries([
          { eventSeq: 7, endpoint: 'http://a/', payload: '{"n":1}' },
          { eventSeq: 7, endpoint: 'http://b/', payload: '{"n":1}' },
        ]),
        2,
      );
      // Another node enqueueing the same event adds nothing, and its payload does not replace the first.
      assert.equal(await store.enqueueDeliveries([{ eventSeq: 7, endpoint: 'http://a/', payload: '{"n":2}' }, { eventSeq: 8, endpoint: 'http://a/', payload: '{"n":3}' }]), 1);
      const first = await store.leaseDeliveries('node-1', 60_000, 2);
      assert.deepEqual(first.map((d) => [d.eventSeq, d.endpoint, d.payload, d.state, d.leaseOwner]), [
        [7, 'http://a/', '{"n":1}', 'leased', 'node-1'],
        [7, 'http://b/', '{"n":1}', 'leased', 'node-1'],
      ]);
      const [second, ...none] = await Promise.all([store.leaseDeliveries('node-2', 60_000, 10), store.leaseDeliveries('node-3', 60_000, 10)]).then((r) => r.flat());
      assert.equal(none.length, 0, 'one delivery left, leased once');
      assert.equal(second?.eventSeq, 8);

      assert.equal(await store.settleDelivery(first[0]!.id, 'node-2', { state: 'delivered', attempts: 1 }), false, 'not node-2 lease');
      assert.equal(await store.settleDelivery(first[0]!.id, 'node-1', { state: 'delivered', attempts: 2 }), true);
      assert.equal(await store.settleDelivery(first[0]!.id, 'node-1', { state: 'failed', attempts: 1 }), false, 'settled already');
      assert.equal(await store.settleDelivery(first[1]!.id, 'node-1', { state: 'pending', attempts: 1, error: 'stopped' }), true);
      const handedBack = await store.leaseDeliveries('node-2', 60_000, 10);
      assert.deepEqual(handedBack.map((d) => [d.id, d.attempts, d.lastError]), [[first[1]!.id, 1, 'stopped']]);
      assert.equal(await store.settleDelivery(handedBack[0]!.id, 'node-2', { state: 'failed', attempts: 5, error: 'HTTP 410' }), true);

      // node-2's lease on the last one runs out: another sender takes it.
      const short = await store.leaseDeliveries('node-4', 1, 10);
      assert.equal(short.length, 0, 'the live lease is respected');
      await store.settleDelivery(second!.id, 'node-2', { state: 'pending', attempts: 0 });
      assert.equal((await store.leaseDeliveries('node-4', 1, 10)).length, 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual((await store.leaseDeliveries('node-5', 60_000, 10)).map((d) => d.leaseOwner), ['node-5']);

      assert.deepEqual((await store.listDeliveries()).map((d) => [d.state, d.attempts]), [['delivered', 2], ['failed', 6], ['leased', 0]]);
      assert.deepEqual((await store.listDeliveries('failed')).map((d) => d.lastError), ['HTTP 410']);
      await new Promise((r) => setTimeout(r, 5));
      assert.equal(await store.pruneDeliveries(60_000), 0);
      assert.equal(await store.pruneDeliveries(0), 2, 'settled ones go, the leased one stays');
      assert.deepEqual((await store.listDeliveries()).map((d) => d.state), ['leased']);

      assert.equal(await store.outboxCursor(), 0);
      await store.advanceOutboxCursor(5);
      await store.advanceOutboxCursor(3);
      assert.equal(await store.outboxCursor(), 5, 'the cursor never moves back');
    });

    withStore('registry: the first claim owns a repository name; concurrent claims agree on one owner', async (store) => {
      const claims = await Promise.all(['000000000001', '000000000002', '000000000003'].map((a) => store.claimRegistryRepository('team/app', a)));
      assert.equal(claims.filter((c) => c.created).length, 1);
      const owner = claims.find((c) => c.created)!.repository.accountId;
      assert.ok(claims.every((c) => c.repository.accountId === owner));
      const again = await store.claimRegistryRepository('team/app', '000000000009');
      assert.deepEqual([again.created, again.repository.accountId, again.repository.public, again.repository.readers], [false, owner, false, []]);
      assert.equal((await store.getRegistryRepository('team/app'))?.accountId, owner);
      assert.equal(await store.getRegistryRepository('team/other'), undefined);
    });

    withStore('registry: access lists what each reader may see, public to everyone', async (store) => {
      await store.claimRegistryRepository('a/mine', '000000000001');
      await store.claimRegistryRepository('b/shared', '000000000002');
      await store.claimRegistryRepository('c/public', '000000000002');
      await store.claimRegistryRepository('d/private', '000000000002');
      const shared = await store.setRegistryRepositoryAccess('b/shared', { readers: ['000000000003', '000000000001', '000000000001'] });
      assert.deepEqual(shared.readers, ['000000000001', '000000000003']);
      await store.setRegistryRepositoryAccess('c/public', { public: true });
      const names = async (reader: string | undefined, page: { after?: string; limit?: number } = {}) =>
        (await store.listRegistryRepositories({ reader, ...page })).map((r) => r.name);
      assert.deepEqual(await names('000000000001'), ['a/mine', 'b/shared', 'c/public']);
      assert.deepEqual(await names('000000000002'), ['b/shared', 'c/public', 'd/private']);
      assert.deepEqual(await names(undefined), ['c/public']);
      assert.deepEqual(await names('000000000001', { after: 'a/mine', limit: 1 }), ['b/shared']);
      // Giving only one part of the access leaves the other as it was.
      const unshared = await store.setRegistryRepositoryAccess('b/shared', { public: true });
      assert.deepEqual([unshared.public, unshared.readers], [true, ['000000000001', '000000000003']]);
      await store.setRegistryRepositoryAccess('b/shared', { readers: [], public: false });
      assert.deepEqual(await names('000000000003'), ['c/public']);
      await assert.rejects(store.setRegistryRepositoryAccess('x/none', { public: true }), (e) => isKilnError(e, 'NotFound'));
    });

    withStore('registry: blobs, manifests and tags of a repository', async (store) => {
      const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
      await assert.rejects(store.linkRegistryBlobs('r/x', [d(1)]), (e) => isKilnError(e, 'NotFound'));
      await store.claimRegistryRepository('r/x', '000000000001');
      await store.linkRegistryBlobs('r/x', [d(1), d(1)]);
      assert.equal(await store.hasRegistryBlob('r/x', d(1)), true);
      assert.equal(await store.hasRegistryBlob('r/x', d(2)), false);
      const m = await store.putRegistryManifest({ repository: 'r/x', digest: d(3), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, blobs: [d(2)], tag: 'v1' });
      assert.deepEqual([m.digest, m.size], [d(3), 10]);
      assert.equal(await store.hasRegistryBlob('r/x', d(2)), true, 'a manifest links its blobs');
      assert.equal((await store.getRegistryManifest('r/x', 'v1'))?.digest, d(3));
      assert.equal((await store.getRegistryManifest('r/x', d(3)))?.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      assert.equal(await store.getRegistryManifest('r/x', 'v2'), undefined);
      // An index needs its children in the repository first; a refused index changes nothing.
      await assert.rejects(
        store.putRegistryManifest({ repository: 'r/x', digest: d(4), mediaType: 'application/vnd.oci.image.index.v1+json', size: 5, blobs: [], manifests: [d(3), d(5)], tag: 'multi' }),
        (e) => isKilnError(e, 'NotFound') && e.message.includes(d(5)),
      );
      assert.equal(await store.getRegistryManifest('r/x', d(4)), undefined);
      await store.putRegistryManifest({ repository: 'r/x', digest: d(4), mediaType: 'application/vnd.oci.image.index.v1+json', size: 5, blobs: [], manifests: [d(3)], tag: 'multi' });
      // Re-tagging moves the tag; tags list in lexical order, paged.
      await store.putRegistryManifest({ repository: 'r/x', digest: d(4), mediaType: 'application/vnd.oci.image.index.v1+json', size: 5, blobs: [], tag: 'v1' });
      await store.putRegistryManifest({ repository: 'r/x', digest: d(3), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 10, blobs: [], tag: 'a' });
      assert.equal((await store.getRegistryManifest('r/x', 'v1'))?.digest, d(4));
      assert.deepEqual(await store.listRegistryTags('r/x'), ['a', 'multi', 'v1']);
      assert.deepEqual(await store.listRegistryTags('r/x', { after: 'a', limit: 1 }), ['multi']);
      assert.equal(await store.deleteRegistryTag('r/x', 'a'), true);
      assert.equal(await store.deleteRegistryTag('r/x', 'a'), false);
      // Deleting a manifest takes its tags with it.
      assert.equal(await store.deleteRegistryManifest('r/x', d(4)), true);
      assert.deepEqual(await store.listRegistryTags('r/x'), []);
      assert.equal(await store.deleteRegistryManifest('r/x', d(4)), false);
      assert.equal(await store.unlinkRegistryBlob('r/x', d(1)), true);
      assert.equal(await store.hasRegistryBlob('r/x', d(1)), false);
      await assert.rejects(store.putRegistryManifest({ repository: 'r/none', digest: d(3), mediaType: 'x', size: 1, blobs: [] }), (e) => isKilnError(e, 'NotFound'));
    });

    withStore('registry: referrers are the manifests recorded with a subject, by digest, and go with their manifest', async (store) => {
      const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
      const oci = 'application/vnd.oci.image.manifest.v1+json';
      await store.claimRegistryRepository('r/ref', '000000000001');
      await store.claimRegistryRepository('r/other', '000000000001');
      await store.putRegistryManifest({ repository: 'r/ref', digest: d(1), mediaType: oci, size: 10, blobs: [], tag: 'v1' });
      // A referrer may arrive before its subject (OCI allows it); order of the answer is by digest.
      await store.putRegistryManifest({ repository: 'r/ref', digest: d(7), mediaType: oci, size: 3, blobs: [], subject: d(2) });
      await store.putRegistryManifest({ repository: 'r/ref', digest: d(5), mediaType: oci, size: 4, blobs: [], subject: d(1) });
      await store.putRegistryManifest({ repository: 'r/ref', digest: d(3), mediaType: oci, size: 5, blobs: [], subject: d(1) });
      await store.putRegistryManifest({ repository: 'r/other', digest: d(4), mediaType: oci, size: 6, blobs: [], subject: d(1) });
      assert.deepEqual((await store.listRegistryReferrers('r/ref', d(1))).map((m) => [m.digest, m.subject, m.size]), [[d(3), d(1), 5], [d(5), d(1), 4]]);
      assert.deepEqual((await store.listRegistryReferrers('r/ref', d(2))).map((m) => m.digest), [d(7)]);
      assert.equal((await store.getRegistryManifest('r/ref', d(3)))?.subject, d(1));
      assert.equal((await store.getRegistryManifest('r/ref', 'v1'))?.subject, undefined);
      assert.deepEqual(await store.listRegistryReferrers('r/ref', d(9)), []);
      assert.equal(await store.deleteRegistryManifest('r/ref', d(3)), true);
      assert.deepEqual((await store.listRegistryReferrers('r/ref', d(1))).map((m) => m.digest), [d(5)]);
    });

    withStore('ping: an open store answers it, with nothing in it yet and after writes', async (store) => {
      await store.ping();
      await store.createAccount({ name: 'a', accountId: '000000000001', accessKeyId: 'AK1', secretAccessKey: 's' });
      await store.ping();
    });

    withStore('records nodes by heartbeat, refreshes them, tells lost from active and forgets removed ones', async (store) => {
      assert.deepEqual(await store.listNodes(60_000), []);
      await store.heartbeatNode({ id: 'host-a/10/aaaa', host: 'host-a', roles: ['worker', 'api'], endpoint: 'http://10.0.0.1:8421' });
      await store.heartbeatNode({ id: 'host-b/20/bbbb', host: 'host-b', roles: ['worker'] });
      const [a, b] = await store.listNodes(60_000);
      assert.deepEqual([a?.id, a?.host, a?.roles, a?.endpoint, a?.state], ['host-a/10/aaaa', 'host-a', ['api', 'worker'], 'http://10.0.0.1:8421', 'active']);
      assert.deepEqual([b?.id, b?.roles, b?.endpoint, b?.state], ['host-b/20/bbbb', ['worker'], undefined, 'active']);
      assert.ok(!Number.isNaN(Date.parse(a!.startedAt)) && a!.lastSeen >= a!.startedAt, 'ISO times, last seen at or after the start');
      await new Promise((resolve) => setTimeout(resolve, 120));
      // Only host-a keeps beating: host-b is lost for a short bound and still active for a long one.
      await store.heartbeatNode({ id: 'host-a/10/aaaa', host: 'host-a', roles: ['worker'], endpoint: 'http://10.0.0.1:9000' });
      const short = await store.listNodes(100);
      assert.deepEqual(short.map((n) => [n.id, n.state]), [['host-a/10/aaaa', 'active'], ['host-b/20/bbbb', 'lost']]);
      const refreshed = short[0]!;
      assert.deepEqual([refreshed.roles, refreshed.endpoint, refreshed.startedAt], [['worker'], 'http://10.0.0.1:9000', a!.startedAt], 'a heartbeat updates roles and endpoint, not the start');
      assert.ok(refreshed.lastSeen > a!.lastSeen, 'a heartbeat moves lastSeen');
      assert.deepEqual((await store.listNodes(60_000)).map((n) => n.state), ['active', 'active']);
      await store.removeNode('host-b/20/bbbb');
      await store.removeNode('host-z/1/0000');
      assert.deepEqual((await store.listNodes(60_000)).map((n) => n.id), ['host-a/10/aaaa']);
    });

    withStore('the step cache: put, get, touch moves an entry to the front, list per account, delete counts what existed', async (store) => {
      const key = (n: number): string => n.toString(16).padStart(64, '0');
      const layer = { layer: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${key(101)}`, size: 300 }, history: { created_by: 'x' } };
      assert.equal(await store.getCacheEntry(key(1)), undefined);
      assert.deepEqual(await store.listCacheEntries(), []);
      await store.putCacheEntry({ key: key(1), accountId: '000000000001', kind: 'layer', label: 'component a', size: 300, entry: layer });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.putCacheEntry({ key: key(2), accountId: '000000000001', kind: 'layer', label: 'component b', size: 0, entry: { layer: null } });
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.putCacheEntry({ key: key(3), accountId: '000000000002', kind: 'disk', label: 'disk', size: 5_000_000_000, entry: { disk: { digest: `sha256:${key(103)}` } } });
      const one = await store.getCacheEntry(key(1));
      assert.deepEqual({ ...one, createdAt: undefined, lastUsedAt: undefined }, { key: key(1), accountId: '000000000001', kind: 'layer', label: 'component a', size: 300, entry: layer, createdAt: undefined, lastUsedAt: undefined });
      assert.ok(!Number.isNaN(Date.parse(one!.createdAt)) && one!.lastUsedAt === one!.createdAt, 'ISO times, first use at creation');
      assert.equal((await store.getCacheEntry(key(3)))?.size, 5_000_000_000, 'sizes beyond 32 bits come back as numbers');
      assert.deepEqual((await store.listCacheEntries()).map((e) => e.key), [key(3), key(2), key(1)], 'most recently used first');

      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.touchCacheEntries([key(1), key(9)]);
      const touched = await store.getCacheEntry(key(1));
      assert.ok(touched!.lastUsedAt > one!.lastUsedAt && touched!.createdAt === one!.createdAt, 'a touch moves lastUsedAt, not createdAt');
      const two = await store.getCacheEntry(key(2));
      assert.equal(two!.lastUsedAt, two!.createdAt, 'a get is not a use');
      assert.deepEqual((await store.listCacheEntries()).map((e) => e.key), [key(1), key(3), key(2)]);
      assert.deepEqual((await store.listCacheEntries({ accountId: '000000000001' })).map((e) => e.key), [key(1), key(2)]);
      assert.deepEqual(await store.listCacheEntries({ accountId: '000000000009' }), []);
      await store.touchCacheEntries([]);

      // A put under an existing key (a rebuild after a prune) replaces the entry and counts as new.
      await new Promise((resolve) => setTimeout(resolve, 5));
      await store.putCacheEntry({ key: key(2), accountId: '000000000001', kind: 'layer', label: 'component b v2', size: 7, entry: { layer: null, n: 2 } });
      const replaced = await store.getCacheEntry(key(2));
      assert.deepEqual([replaced?.label, replaced?.size, replaced?.entry], ['component b v2', 7, { layer: null, n: 2 }]);
      assert.ok(replaced!.createdAt > one!.createdAt);
      assert.equal((await store.listCacheEntries())[0]?.key, key(2));

      assert.equal(await store.deleteCacheEntries([key(1), key(2), key(2), key(9)]), 2, 'only existing entries count, a repeated key once');
      assert.equal(await store.deleteCacheEntries([]), 0);
      assert.deepEqual((await store.listCacheEntries()).map((e) => e.key), [key(3)]);
      // More keys than one statement takes.
      const many = Array.from({ length: 1203 }, (_, i) => key(1000 + i));
      for (const k of many.slice(0, 600)) await store.putCacheEntry({ key: k, accountId: '000000000001', kind: 'layer', label: 'x', size: 1, entry: {} });
      await store.touchCacheEntries(many);
      assert.equal(await store.deleteCacheEntries(many), 600);
      assert.equal((await store.listCacheEntries()).length, 1);
    });

    withStore('a leadership has one holder: renewed by it, taken over after its term, given up on release', async (store) => {
      const racing = await Promise.all(['n1', 'n2', 'n3', 'n4'].map((owner) => store.acquireLeadership('scheduler', owner, 60_000)));
      assert.equal(racing.filter(Boolean).length, 1, 'owners racing for a free leadership: exactly one wins');
      const holder = ['n1', 'n2', 'n3', 'n4'][racing.indexOf(true)]!;
      const other = holder === 'n1' ? 'n2' : 'n1';
      await store.releaseLeadership('scheduler', other);
      assert.equal(await store.acquireLeadership('scheduler', other, 60_000), false, 'a release by a non-holder changes nothing');
      assert.equal(await store.acquireLeadership('scheduler', holder, 100), true, 'the holder renews (here to a short term)');
      assert.equal(await store.acquireLeadership('lifecycle', other, 60_000), true, 'names are independent');
      assert.equal(await store.acquireLeadership('scheduler', other, 60_000), false, 'still held');
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.equal(await store.acquireLeadership('scheduler', other, 60_000), true, 'taken over once the term ran out');
      assert.equal(await store.acquireLeadership('scheduler', holder, 60_000), false, 'the former holder lost it');
      await store.releaseLeadership('scheduler', other);
      assert.equal(await store.acquireLeadership('scheduler', holder, 60_000), true, 'free again after a release');
    });
  });
}
