import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  DeleteComponentCommand,
  ForbiddenException,
  GetComponentCommand,
  ImagebuilderClient,
  InvalidParameterValueException,
  ListComponentBuildVersionsCommand,
  ListComponentsCommand,
  TagResourceCommand,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/server-start.js';
import { MANAGED_COMPONENTS, managedComponentArn } from '../../src/domain/managed-components.js';
import { registerManagedComponents } from '../../src/service/components.js';
import { buildSkipReason, mirrorSkipReason, run, startBuildServer, waitForImage } from './helpers.js';

const KILN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/kiln');
const CONTAINER_BASE = 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x';
const arnOf = (name: string, version: string, region = 'local') => `arn:aws:imagebuilder:${region}:aws:component/${name}/${version}`;
const versionOf = (name: string) => MANAGED_COMPONENTS.find((c) => c.name === name)!.version;

test('Kiln-managed Amazon components: listed, served, refused to change, named by recipes and built', { timeout: 30 * 60_000 }, async (t) => {
  const kiln = await startBuildServer(t, { regions: ['local', 'eu-west-1'] });
  const ib = kiln.client;

  await t.test('ListComponents --owner Amazon lists each one in every region; GetComponent serves its document', async () => {
    const listed = (await ib.send(new ListComponentsCommand({ owner: 'Amazon' }))).componentVersionList ?? [];
    assert.deepEqual(
      listed.map((c) => [c.name, c.owner, c.version, c.arn, c.platform]).sort(),
      MANAGED_COMPONENTS.map((c) => [c.name, 'aws', c.version, arnOf(c.name, c.version), 'Linux']).sort(),
    );
    assert.deepEqual(listed.filter((c) => c.type === 'TEST').map((c) => c.name).sort(), ['chrony-time-configuration-test', 'reboot-test-linux', 'simple-boot-test-linux']);
    // They are Amazon's, not the caller's own.
    assert.deepEqual((await ib.send(new ListComponentsCommand({}))).componentVersionList, []);
    const named = await ib.send(new ListComponentsCommand({ owner: 'Amazon', filters: [{ name: 'name', values: ['update-linux'] }] }));
    assert.deepEqual(named.componentVersionList?.map((c) => c.arn), [arnOf('update-linux', versionOf('update-linux'))]);

    const update = managedComponentArn('local', MANAGED_COMPONENTS.find((c) => c.name === 'update-linux')!);
    for (const ask of [update, arnOf('update-linux', 'x.x.x'), arnOf('update-linux', '1.x.x'), arnOf('update-linux', versionOf('update-linux'))]) {
      const got = (await ib.send(new GetComponentCommand({ componentBuildVersionArn: ask }))).component!;
      assert.equal(got.arn, update, ask);
      assert.equal(got.owner, 'aws');
      assert.equal(got.type, 'BUILD');
      assert.deepEqual(got.supportedOsVersions, ['Debian 12']);
      assert.equal(got.data, MANAGED_COMPONENTS.find((c) => c.name === 'update-linux')!.data);
      assert.deepEqual(got.parameters?.map((p) => p.name), ['include', 'exclude']);
    }
    await assert.rejects(ib.send(new GetComponentCommand({ componentBuildVersionArn: arnOf('update-linux', '2.x.x') })), { name: 'ResourceNotFoundException' });
    const builds = await ib.send(new ListComponentBuildVersionsCommand({ componentVersionArn: arnOf('hello-world-linux', versionOf('hello-world-linux')) }));
    assert.deepEqual(builds.componentSummaryList?.map((c) => c.arn), [arnOf('hello-world-linux', `${versionOf('hello-world-linux')}/1`)]);

    const westClient = new ImagebuilderClient({ endpoint: kiln.server.endpoint, region: 'eu-west-1', credentials: kiln.credentials, maxAttempts: 1 });
    t.after(() => westClient.destroy());
    const westListed = (await westClient.send(new ListComponentsCommand({ owner: 'Amazon' }))).componentVersionList ?? [];
    assert.deepEqual(westListed.map((c) => c.arn).sort(), MANAGED_COMPONENTS.map((c) => arnOf(c.name, c.version, 'eu-west-1')).sort());
  });

  await t.test('nobody deletes or tags a managed component', async () => {
    const arn = arnOf('reboot-linux', `${versionOf('reboot-linux')}/1`);
    await assert.rejects(ib.send(new DeleteComponentCommand({ componentBuildVersionArn: arn })), (e: Error) => {
      assert.ok(e instanceof ForbiddenException, e.name);
      assert.match(e.message, /managed by Kiln/);
      return true;
    });
    await assert.rejects(ib.send(new TagResourceCommand({ resourceArn: arn, tags: { team: 'a' } })), ForbiddenException);
    assert.equal((await ib.send(new GetComponentCommand({ componentBuildVersionArn: arn }))).component?.arn, arn);
  });

  await t.test('recipes name them by exact version or wildcard; a managed name Kiln does not provide is refused', async () => {
    const recipe = (name: string, components: { componentArn: string }[]) =>
      ib.send(new CreateImageRecipeCommand({ name, semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components }));
    const created = await recipe('all-managed', [
      { componentArn: arnOf('update-linux', 'x.x.x') },
      { componentArn: arnOf('python-3-linux', '1.x.x') },
      { componentArn: arnOf('aws-cli-version-2-linux', versionOf('aws-cli-version-2-linux')) },
      { componentArn: arnOf('reboot-linux', `${versionOf('reboot-linux')}/1`) },
      { componentArn: arnOf('simple-boot-test-linux', 'x.x.x') },
    ]);
    assert.ok(created.imageRecipeArn);
    await assert.rejects(recipe('stig', [{ componentArn: arnOf('update-linux', 'x.x.x') }, { componentArn: arnOf('stig-build-linux-high', 'x.x.x') }]), (e: Error) => {
      assert.ok(e instanceof InvalidParameterValueException, e.name);
      assert.match(e.message, /components\[1\]\.componentArn: .*stig-build-linux-high\/x\.x\.x names a component that does not exist or is not visible/);
      return true;
    });
    await assert.rejects(recipe('too-new', [{ componentArn: arnOf('update-linux', '2.x.x') }]), InvalidParameterValueException);
    // The documented parameters are accepted, unknown ones refused.
    await assert.rejects(recipe('bad-param', [{ componentArn: arnOf('update-linux', 'x.x.x'), parameters: [{ name: 'packages', value: ['x'] }] } as never]), /'packages' is not a parameter/);
  });

  const skip = buildSkipReason() ?? (await mirrorSkipReason());
  await t.test('a container recipe with update-linux and hello-world-linux builds AVAILABLE on the managed base', { skip }, async () => {
    const recipe = await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'managed-components',
        semanticVersion: '1.0.0',
        parentImage: CONTAINER_BASE,
        targetRepository: { service: 'ECR', repositoryName: 'e2e/managed-components' },
        components: [
          // An excluded package takes the documented exclude path: apt holds it for the run and releases it after.
          { componentArn: arnOf('update-linux', 'x.x.x'), parameters: [{ name: 'exclude', value: ['apt'] }] },
          { componentArn: arnOf('hello-world-linux', '1.x.x') },
        ],
        dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
      }),
    );
    const infra = await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'managed-components', instanceProfileName: 'kiln', instanceTypes: ['ns.small'] }));
    const started = Date.now();
    const arn = (await ib.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn }))).imageBuildVersionArn!;
    const image = await waitForImage(ib, arn, { timeoutMs: 480_000 });
    assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
    t.diagnostic(`container build with update-linux and hello-world-linux: ${Date.now() - started} ms`);
    const logs = await run(KILN, ['logs', arn, '--endpoint', kiln.server.endpoint, '--data-dir', kiln.dataDir]);
    assert.match(logs, /update-linux: updating all packages except apt/);
    assert.match(logs, /apt set on hold\./);
    assert.match(logs, /Canceled hold on apt\./);
    for (const phase of ['Build', 'Validate', 'Test']) assert.match(logs, new RegExp(`Hello World! ${phase} phase\\.`), `${phase} phase output in the step log`);
  });
  // The machine check (update-linux, reboot-linux, reboot-test-linux on a booted test VM) rides on the machine-image
  // test's first build, which boots a test VM anyway (test/build/machine-image.test.ts).
});

test('registering the managed components again keeps one build each and brings a stale document up to date', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-managed-comp-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openStore(dir);
  t.after(() => store.close());
  await registerManagedComponents(store, ['local']);
  const hello = MANAGED_COMPONENTS.find((c) => c.name === 'hello-world-linux')!;
  const arn = managedComponentArn('local', hello);
  await store.updateResource(arn, (current) => ({ ...current.data, data: 'stale' }));
  await registerManagedComponents(store, ['local']);
  const records = await store.listResources({ accountId: 'aws', region: 'local', type: 'component', name: 'hello-world-linux' });
  assert.deepEqual(records.map((r) => [r.arn, r.data.data]), [[arn, hello.data]]);
});
