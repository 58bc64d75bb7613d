/**
 * SBOMs of a built container image, end to end: `kiln images sbom` lists what dpkg-query lists in the image,
 * both formats validate against their schemas, the SPDX document is attached in Kiln's registry as an OCI
 * referrer of the image manifest, and the route's errors name what is wrong.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand } from '@aws-sdk/client-imagebuilder';
import { kilnRequest } from '../../src/cli/kiln-client.js';
import { kilnAs } from '../helpers/kiln-cli.js';
import { cyclonedxSchemaErrors, spdxSchemaErrors } from '../helpers/sbom-schemas.js';
import { bashComponent, buildSkipReason, mirrorSkipReason, run, startBuildServer, waitForImage } from './helpers.js';

const skip = buildSkipReason() ?? (await mirrorSkipReason());

test('kiln images sbom: the packages dpkg-query lists, schema-valid SPDX and CycloneDX, the SPDX SBOM as a registry referrer', { skip, timeout: 600_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const { client, credentials } = kiln;
  const componentArn = (await client.send(new CreateComponentCommand({ name: 'sbom-hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo built > /etc/sbom-hello'] }) }))).componentBuildVersionArn!;
  const recipe = await client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'sbom-debian',
      semanticVersion: '1.0.0',
      parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x',
      targetRepository: { service: 'ECR', repositoryName: 'e2e/sbom-debian' },
      components: [{ componentArn }],
      dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
    }),
  );
  const infra = await client.send(new CreateInfrastructureConfigurationCommand({ name: 'sbom-infra', instanceProfileName: 'kiln' }));
  const image = await waitForImage(client, (await client.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }))).imageBuildVersionArn!, { timeoutMs: 480_000 });
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  const uri = image.outputResources!.containers![0]!.imageUris![0]!;

  // What dpkg-query lists in the image, read from its own dpkg database.
  const work = mkdtempSync(path.join(tmpdir(), 'kiln-sbom-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const creds = `${credentials.accessKeyId}:${credentials.secretAccessKey}`;
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', creds, `docker://${uri}`, `oci:${work}/layout:x`]);
  await run('umoci', ['unpack', '--image', `${work}/layout:x`, `${work}/bundle`]);
  const dpkg = execFileSync('dpkg-query', [`--admindir=${work}/bundle/rootfs/var/lib/dpkg`, '-W', '-f', '${db:Status-Abbrev} ${Package} ${Version} ${Architecture}\\n'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('ii '))
    .map((l) => l.slice(4).trim())
    .sort();
  assert.ok(dpkg.length > 50, `the managed base has its packages (${dpkg.length})`);

  const spdxOut = await kilnAs(kiln.server.endpoint, credentials, ['images', 'sbom', image.arn!]);
  assert.equal(spdxOut.code, 0, spdxOut.stderr);
  const spdx = JSON.parse(spdxOut.stdout) as { packages: { name: string; versionInfo: string; primaryPackagePurpose: string; externalRefs?: { referenceLocator: string }[]; checksums?: { checksumValue: string }[] }[] };
  assert.deepEqual(spdxSchemaErrors(spdx), []);
  const installed = spdx.packages.filter((p) => p.primaryPackagePurpose === 'LIBRARY');
  const arch = (p: { externalRefs?: { referenceLocator: string }[] }) => /[?&]arch=([^&]+)/.exec(p.externalRefs![0]!.referenceLocator)![1];
  assert.deepEqual(installed.map((p) => `${p.name} ${p.versionInfo} ${arch(p)}`).sort(), dpkg);
  const bash = installed.find((p) => p.name === 'bash')!;
  assert.match(bash.externalRefs![0]!.referenceLocator, /^pkg:deb\/debian\/bash@[^?]+\?arch=amd64&distro=debian-12$/);

  const cdxOut = await kilnAs(kiln.server.endpoint, credentials, ['images', 'sbom', image.arn!, '--format', 'cyclonedx']);
  assert.equal(cdxOut.code, 0, cdxOut.stderr);
  const cdx = JSON.parse(cdxOut.stdout) as { components: { type: string; name: string; version: string }[] };
  assert.deepEqual(cyclonedxSchemaErrors(cdx), []);
  assert.equal(cdx.components.filter((c) => c.type === 'library').length, dpkg.length);

  // The registry lists the SPDX SBOM as a referrer of the image's manifest, and serves it.
  const [host, repoAndTag] = [uri.slice(0, uri.indexOf('/')), uri.slice(uri.indexOf('/') + 1)];
  const [repository, tag] = repoAndTag.split(':') as [string, string];
  const auth = { authorization: `Basic ${Buffer.from(creds).toString('base64')}` };
  const head = await fetch(`http://${host}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const digest = head.headers.get('docker-content-digest')!;
  assert.equal(spdx.packages.find((p) => p.primaryPackagePurpose === 'CONTAINER')!.checksums![0]!.checksumValue, digest.slice('sha256:'.length), 'the SBOM names the image manifest');
  const referrers = (await (await fetch(`http://${host}/v2/${repository}/referrers/${digest}?artifactType=application/spdx%2Bjson`, { headers: auth })).json()) as { manifests: { digest: string; artifactType: string }[] };
  assert.equal(referrers.manifests.length, 1);
  assert.equal(referrers.manifests[0]!.artifactType, 'application/spdx+json');
  const artifact = (await (await fetch(`http://${host}/v2/${repository}/manifests/${referrers.manifests[0]!.digest}`, { headers: { ...auth, accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { subject: { digest: string }; layers: { digest: string }[] };
  assert.equal(artifact.subject.digest, digest);
  const attached = (await (await fetch(`http://${host}/v2/${repository}/blobs/${artifact.layers[0]!.digest}`, { headers: auth })).json()) as unknown;
  assert.deepEqual(attached, spdx, 'the attached SBOM is the one kiln images sbom prints');

  // Errors name what is wrong.
  const missing = await kilnAs(kiln.server.endpoint, credentials, ['images', 'sbom', image.arn!.replace(/\/1\.0\.0\/1$/, '/9.9.9/1')]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /ResourceNotFoundException/);
  const target = { endpoint: kiln.server.endpoint, region: 'local', credentials: { ...credentials, source: 'test' } };
  const badFormat = await kilnRequest(target, { method: 'GET', path: '/kiln/images/sbom', query: { image: image.arn!, format: 'xml' } });
  assert.equal(badFormat.status, 400);
  assert.match(String(badFormat.body.message), /^format: /);
  const usage = await kilnAs(kiln.server.endpoint, credentials, ['images', 'sbom', image.arn!, '--format', 'xml']);
  assert.notEqual(usage.code, 0);
  assert.match(usage.stderr, /format/);
});
