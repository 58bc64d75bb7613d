import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { diskStatement, judgeContainerSignatures, judgeDiskSignature, signatureManifest, signatureTag, signPayload, simpleSigningPayload, verifyPayload, type ContainerSignaturesAt, type DiskSignature } from './image-signatures.js';

const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
const DIGEST = `sha256:${'ab'.repeat(32)}`;

test('the simple-signing payload, its tag and manifest have the shapes containers/image reads', () => {
  assert.equal(signatureTag(DIGEST), `sha256-${'ab'.repeat(32)}.sig`);
  const payload = simpleSigningPayload('127.0.0.1:5000/app:1.0.0-1', DIGEST);
  assert.deepEqual(JSON.parse(payload.toString()), {
    critical: { identity: { 'docker-reference': '127.0.0.1:5000/app:1.0.0-1' }, image: { 'docker-manifest-digest': DIGEST }, type: 'cosign container image signature' },
    optional: {},
  });
  const { manifest, blobs } = signatureManifest([{ payload, signature: 'c2ln' }]);
  const m = JSON.parse(manifest.toString()) as { mediaType: string; layers: { mediaType: string; size: number; annotations: Record<string, string> }[] };
  assert.equal(m.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  assert.deepEqual(m.layers.map((l) => [l.mediaType, l.size, l.annotations['dev.cosignproject.cosign/signature']]), [['application/vnd.dev.cosign.simplesigning.v1+json', payload.byteLength, 'c2ln']]);
  assert.equal(blobs.length, 2, 'the config and the payload');
});

test('signatures are ECDSA-SHA256 DER that openssl verifies with the PEM public key, and no other key', (t) => {
  const own = pair();
  const other = pair();
  const payload = simpleSigningPayload('h/app:1', DIGEST);
  const signature = signPayload(own.privateKey, payload);
  assert.equal(verifyPayload(own.publicKey, payload, signature), true);
  assert.equal(verifyPayload(other.publicKey, payload, signature), false);
  assert.equal(verifyPayload(own.publicKey, Buffer.concat([payload, Buffer.from(' ')]), signature), false);
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-sig-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'pub.pem'), own.publicKey);
  writeFileSync(path.join(dir, 'sig.der'), Buffer.from(signature, 'base64'));
  writeFileSync(path.join(dir, 'payload'), payload);
  assert.match(execFileSync('openssl', ['dgst', '-sha256', '-verify', path.join(dir, 'pub.pem'), '-signature', path.join(dir, 'sig.der'), path.join(dir, 'payload')], { encoding: 'utf8' }), /Verified OK/);
});

test('a machine image verifies only with its key, for its own ARN, while the stored disk keeps the signed digest', () => {
  const own = pair();
  const arn = 'arn:aws:imagebuilder:local:111122223333:image/vm/1.0.0/1';
  const statement = diskStatement(arn, DIGEST);
  const signature: DiskSignature = { payload: statement.toString('base64'), signature: signPayload(own.privateKey, statement), diskDigest: DIGEST };
  const base = { imageArn: arn, accountId: '111122223333', publicKeyPem: own.publicKey, signature, storedDiskDigest: DIGEST };
  const good = judgeDiskSignature(base);
  assert.equal(good.ok, true, good.line);
  assert.match(good.line, /verified: disk sha256:abab.* is stored unchanged and signed by account 111122223333's key \(SHA256:[0-9a-f]{16}…\)$/);
  const cases: [Partial<typeof base>, RegExp][] = [
    [{ signature: undefined }, /has no signature/],
    [{ publicKeyPem: pair().publicKey }, /does not verify with the key of account 111122223333/],
    [{ imageArn: arn.replace('/1.0.0/1', '/1.0.0/2') }, /for another image/],
    [{ signature: { ...signature, diskDigest: `sha256:${'cd'.repeat(32)}` } }, /disagree/],
    [{ storedDiskDigest: `sha256:${'ef'.repeat(32)}` }, /the stored disk is sha256:efef.* now; the signature is over sha256:abab/],
    [{ storedDiskDigest: undefined }, /no longer stored/],
  ];
  for (const [change, why] of cases) {
    const verdict = judgeDiskSignature({ ...base, ...change });
    assert.equal(verdict.ok, false, verdict.line);
    assert.match(verdict.line, why);
    assert.match(verdict.line, /NOT verified/);
  }
});

test('a container image verifies when every URI has a signature by the key naming it and the digest', () => {
  const own = pair();
  const uri = '127.0.0.1:5000/app:1.0.0-1';
  const sig = (ref: string, digest: string, key = own.privateKey) => {
    const payload = simpleSigningPayload(ref, digest);
    return { payload: payload.toString('base64'), signature: signPayload(key, payload) };
  };
  const base = { imageArn: 'arn:aws:imagebuilder:local:111122223333:image/app/1.0.0/1', accountId: '111122223333', publicKeyPem: own.publicKey, manifestDigest: DIGEST };
  const good = judgeContainerSignatures({ ...base, places: [{ uri, signatures: [sig('127.0.0.1:5000/app:latest', DIGEST), sig(uri, DIGEST)] }] });
  assert.equal(good.ok, true, good.line);
  assert.match(good.line, /verified: sha256:abab.* is signed as 127\.0\.0\.1:5000\/app:1\.0\.0-1 by account 111122223333's key/);
  const cases: [ContainerSignaturesAt[], RegExp][] = [
    [[], /in none of Kiln's registry repositories/],
    [[{ uri, signatures: [] }], /app:1\.0\.0-1 has no signature$/],
    [[{ uri, signatures: [sig('127.0.0.1:5000/app:latest', DIGEST)] }], /has no signature for it/],
    [[{ uri, signatures: [sig(uri, `sha256:${'cd'.repeat(32)}`)] }], /has no signature for it/],
    [[{ uri, signatures: [sig(uri, DIGEST, pair().privateKey)] }], /has no signature for it by the key of account 111122223333/],
  ];
  for (const [places, why] of cases) {
    const verdict = judgeContainerSignatures({ ...base, places });
    assert.equal(verdict.ok, false, verdict.line);
    assert.match(verdict.line, why);
  }
});
