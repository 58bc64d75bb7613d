import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand, ListImagePackagesCommand, ListImagesCommand } from '@aws-sdk/client-imagebuilder';
import { DEFAULT_DEBIAN_MIRROR } from '../../src/app/server-config.js';
import { bashComponent, buildSkipReason, hostLeftovers, run, startBuildServer, waitForImage } from './helpers.js';

/** The managed base needs the Debian mirror; without it the test says so and skips. */
async function mirrorSkipReason(): Promise<string | undefined> {
  const local = buildSkipReason();
  if (local) return local;
  try {
    const res = await fetch(`${DEFAULT_DEBIAN_MIRROR}/dists/bookworm/Release`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
    return res.ok ? undefined : `needs the network: the Debian mirror answered ${res.status}`;
  } catch (err) {
    return `needs the network: the Debian mirror ${DEFAULT_DEBIAN_MIRROR} is unreachable (${(err as Error).message})`;
  }
}

test('the Kiln-managed Debian 12 container base: listed as Amazon, bootstrapped on first use, built on with apt', { skip: await mirrorSkipReason(), timeout: 600_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const listed = await kiln.client.send(new ListImagesCommand({ owner: 'Amazon' }));
  const base = listed.imageVersionList?.find((i) => i.name === 'debian-12-container-x86');
  assert.ok(base, 'ListImages owner Amazon lists the managed base');
  assert.equal(base.type, 'DOCKER');
  assert.equal(base.owner, 'aws');

  const data = bashComponent({
    build: ['apt-get update', 'DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends jq', 'rm -rf /var/lib/apt/lists/*'],
    test: ['echo \'{"kiln":"works"}\' | jq -r .kiln | grep -qx works'],
  });
  const componentArn = (await kiln.client.send(new CreateComponentCommand({ name: 'install-jq', semanticVersion: '1.0.0', platform: 'Linux', data }))).componentBuildVersionArn!;
  const recipe = await kiln.client.send(
    new CreateContainerRecipeCommand({
      containerType: 'DOCKER',
      name: 'debian-jq',
      semanticVersion: '1.0.0',
      parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x',
      targetRepository: { service: 'ECR', repositoryName: 'e2e/debian-jq' },
      components: [{ componentArn }],
      dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\nCMD ["jq", "--version"]',
    }),
  );
  const infra = await kiln.client.send(new CreateInfrastructureConfigurationCommand({ name: 'debian-infra', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }));
  const create = () => kiln.client.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }));
  const first = await waitForImage(kiln.client, (await create()).imageBuildVersionArn!, { timeoutMs: 480_000 });
  assert.equal(first.state?.status, 'AVAILABLE', first.state?.reason);
  const uri = first.outputResources!.containers![0]!.imageUris![0]!;

  const work = mkdtempSync(path.join(tmpdir(), 'kiln-debian-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  await run('skopeo', ['copy', '--quiet', '--src-tls-verify=false', '--src-creds', `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`, `docker://${uri}`, `oci:${work}/layout:x`]);
  await run('umoci', ['unpack', '--image', `${work}/layout:x`, `${work}/bundle`]);
  const rootfs = `${work}/bundle/rootfs`;
  assert.match(readFileSync(`${rootfs}/etc/debian_version`, 'utf8'), /^12\./);
  assert.match(execFileSync('chroot', [rootfs, 'jq', '--version'], { encoding: 'utf8' }), /^jq-1\.6/);
  // The packages Kiln read from the image's dpkg database are what dpkg-query lists in it.
  const listedByDpkg = execFileSync('chroot', [rootfs, 'dpkg-query', '-W', '-f', '${db:Status-Abbrev} ${Package} ${Version}\\n'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('ii '))
    .map((l) => l.slice(4).trim().split(' '))
    .map(([packageName, packageVersion]) => ({ packageName, packageVersion }))
    .sort((a, b) => (a.packageName! < b.packageName! ? -1 : 1));
  const listedByKiln = [];
  for (let nextToken: string | undefined, pages = 0; pages === 0 || nextToken; pages++) {
    const page = await kiln.client.send(new ListImagePackagesCommand({ imageBuildVersionArn: first.arn, maxResults: 25, nextToken }));
    listedByKiln.push(...(page.imagePackageList ?? []));
    nextToken = page.nextToken;
  }
  assert.ok(listedByDpkg.some((p) => p.packageName === 'jq'));
  assert.deepEqual(listedByKiln, listedByDpkg);
  // The base is slim and its apt keeps no cache, so the component's install left no .deb, no pkgcache.bin, and
  // of jq's docs only its copyright.
  assert.equal(execFileSync('find', [`${rootfs}/var/cache/apt`, '-name', '*.deb', '-o', '-name', '*.bin'], { encoding: 'utf8' }), '');
  assert.deepEqual(readdirSync(`${rootfs}/usr/share/doc/jq`), ['copyright']);
  assert.equal(existsSync(`${rootfs}/usr/share/man/man1/jq.1.gz`), false);

  // The base is cached: a second build does not bootstrap again.
  const t0 = Date.now();
  const second = await waitForImage(kiln.client, (await create()).imageBuildVersionArn!, { timeoutMs: 240_000 });
  assert.equal(second.state?.status, 'AVAILABLE', second.state?.reason);
  const bootstrapLogs = execFileSync('grep', ['-rl', 'bootstrapping debian-12-container-x86', path.join(kiln.dataDir, 'logs')], { encoding: 'utf8' }).trim().split('\n');
  assert.equal(bootstrapLogs.length, 1, `only the first build bootstrapped (second took ${Date.now() - t0} ms)`);
  assert.deepEqual(hostLeftovers(kiln.dataDir), []);
});
