import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTestImage, startKilnRegistry } from '../../../test/helpers/registry.js';
import { readSimpleSigningPayload, signatureTag, verifyPayload } from '../../domain/image-signatures.js';
import { RegistryClient } from '../../registry/client/registry-client.js';
import { accountSigningKey } from '../../store/account-signing-key.js';
import { signDistributedImage, type SignedPlace, type SignerDeps } from './image-signatures.js';

test('signing again for other tags keeps the earlier signatures, in Kiln\'s registry and in one reached over HTTP', async (t) => {
  const reg = await startKilnRegistry(t);
  const image = await makeTestImage(reg.blobs, { 'hello.txt': 'hi' });
  const client = new RegistryClient([{ host: reg.host, insecure: true, username: reg.admin.accessKeyId, password: reg.admin.secretAccessKey }]);
  const deps: SignerDeps = { blobs: reg.blobs, client, builtin: reg.registry, signingKeys: reg.store };
  const { accountId } = reg.admin;
  const key = await accountSigningKey(reg.store, accountId);
  const log: string[] = [];
  const signal = new AbortController().signal;

  const places: SignedPlace[] = [
    { kind: 'builtin', host: reg.host, repository: 'in/builtin' },
    { kind: 'external', registry: reg.host, repository: 'over/http' },
  ];
  for (const place of places) {
    await signDistributedImage(deps, accountId, image.manifestDigest, place, ['1.0.0-1'], (s) => log.push(s), signal);
    await signDistributedImage(deps, accountId, image.manifestDigest, place, ['latest', 'stable'], (s) => log.push(s), signal);
    // Signing a tag again replaces its signature rather than adding a second one.
    await signDistributedImage(deps, accountId, image.manifestDigest, place, ['latest'], (s) => log.push(s), signal);
    const found = await reg.registry.resolve({ accountId, repository: place.repository, reference: signatureTag(image.manifestDigest) });
    const manifest = JSON.parse((await reg.blobs.get(found.manifestDigest)).toString()) as { layers: { digest: string; annotations: Record<string, string> }[] };
    const refs: string[] = [];
    for (const layer of manifest.layers) {
      const payload = await reg.blobs.get(layer.digest);
      assert.ok(verifyPayload(key.publicKeyPem, payload, layer.annotations['dev.cosignproject.cosign/signature']!));
      const claim = readSimpleSigningPayload(payload)!;
      assert.equal(claim.manifestDigest, image.manifestDigest);
      refs.push(claim.dockerReference);
    }
    assert.deepEqual(refs.sort(), ['1.0.0-1', 'latest', 'stable'].map((tag) => `${reg.host}/${place.repository}:${tag}`), place.kind);
  }
  assert.ok(log.some((l) => /2 earlier signatures kept/.test(l)), log.join(''));
  assert.ok(!log.some((l) => /could not read/.test(l)), 'a first signing finds no earlier signatures quietly');
});
