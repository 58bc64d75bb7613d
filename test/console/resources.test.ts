/**
 * Browser tests of the console's resource pages on a Kiln without builds: resources made with the stock SDK
 * appear in every list, details open by keyboard, the component editor validates on the server and creates,
 * a delete refused for a dependency is explained, a pipeline runs and its image is cancelled, and the image page
 * follows a running step's log, and a FAILED image is retried. Screenshots of each page go to test-artifacts/console/.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateDistributionConfigurationCommand,
  CreateImageCommand,
  CreateImagePipelineCommand,
  CreateImageRecipeCommand,
  CreateInfrastructureConfigurationCommand,
  CreateLifecyclePolicyCommand,
  GetImageCommand,
  StartImagePipelineExecutionCommand,
  type ImagebuilderClient,
} from '@aws-sdk/client-imagebuilder';
import type { Page } from 'playwright-core';
import { ExecutionRecorder } from '../../src/builder/records/execution-records.js';
import { openStore } from '../../src/app/server-start.js';
import { startFixture, type Fixture } from '../api/fixture.js';
import { browserSkipReason, launchBrowser, openConsole, screenshot, signIn } from './harness.js';

const skip = browserSkipReason();

const DOC = `schemaVersion: 1.0
parameters:
  - greeting:
      type: string
      default: hello
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        inputs:
          commands: ['echo {{ greeting }}']
`;
const DOCKERFILE = 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n';

interface Made {
  componentArn: string;
  imageRecipeArn: string;
  containerRecipeArn: string;
  infrastructureConfigurationArn: string;
  distributionConfigurationArn: string;
  lifecyclePolicyArn: string;
  imagePipelineArn: string;
}

/** One resource of every family, made through the stock SDK as any client would. */
async function makeResources(ib: ImagebuilderClient): Promise<Made> {
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: DOC, description: 'says hello' }))).componentBuildVersionArn!;
  const imageRecipeArn = (await ib.send(new CreateImageRecipeCommand({ name: 'web', semanticVersion: '1.0.0', parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', components: [{ componentArn }] }))).imageRecipeArn!;
  const containerRecipeArn = (
    await ib.send(
      new CreateContainerRecipeCommand({
        containerType: 'DOCKER',
        name: 'app',
        semanticVersion: '1.0.0',
        parentImage: 'amazonlinux:latest',
        targetRepository: { service: 'ECR', repositoryName: 'team/app' },
        components: [{ componentArn, parameters: [{ name: 'greeting', value: ['yo'] }] }],
        dockerfileTemplateData: DOCKERFILE,
      }),
    )
  ).containerRecipeArn!;
  const infrastructureConfigurationArn = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'build-infra', instanceProfileName: 'BuildProfile', instanceTypes: ['ns.small'], terminateInstanceOnFailure: false })))
    .infrastructureConfigurationArn!;
  const distributionConfigurationArn = (
    await ib.send(new CreateDistributionConfigurationCommand({ name: 'Ship It', description: 'to the local registry', distributions: [{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'team/app' }, containerTags: ['latest'] } }] }))
  ).distributionConfigurationArn!;
  const lifecyclePolicyArn = (
    await ib.send(
      new CreateLifecyclePolicyCommand({
        name: 'Keep Recent',
        executionRole: 'arn:aws:iam::123456789012:role/LifecycleRole',
        resourceType: 'AMI_IMAGE',
        policyDetails: [{ action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } }, filter: { type: 'AGE', value: 6, unit: 'MONTHS', retainAtLeast: 2 } }],
        resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.x.x' }] },
      }),
    )
  ).lifecyclePolicyArn!;
  const imagePipelineArn = (
    await ib.send(new CreateImagePipelineCommand({ name: 'nightly', containerRecipeArn, infrastructureConfigurationArn, distributionConfigurationArn, schedule: { scheduleExpression: 'cron(0 3 * * ? *)', timezone: 'Europe/Paris' } }))
  ).imagePipelineArn!;
  return { componentArn, imageRecipeArn, containerRecipeArn, infrastructureConfigurationArn, distributionConfigurationArn, lifecyclePolicyArn, imagePipelineArn };
}

async function setup(t: TestContext): Promise<{ f: Fixture; ib: ImagebuilderClient; made: Made; page: Page }> {
  const f = await startFixture(t);
  const ib = f.client();
  const made = await makeResources(ib);
  const browser = await launchBrowser(t);
  const page = await openConsole(browser, f.server.consoleUrl);
  await signIn(page, f.credentials);
  await page.getByRole('navigation', { name: 'Resources' }).waitFor();
  return { f, ib, made, page };
}

/** Opens a section from the navigation bar. */
async function openSection(page: Page, title: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Resources' }).getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title, exact: true }).waitFor();
}

/** Presses Tab until the focused element is the link named `name`, then Enter: keyboard only. */
async function tabToAndEnter(page: Page, name: string): Promise<void> {
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement | null;
      return el ? { tag: el.tagName, text: el.innerText.trim() } : undefined;
    });
    if (focused?.tag === 'A' && focused.text === name) {
      await page.keyboard.press('Enter');
      return;
    }
  }
  assert.fail(`no link named ${name} was reached with Tab`);
}

/** The heading of the current view. */
async function heading(page: Page, name: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

const statusOf = (page: Page) => page.getByTestId('image-status');

test('console resources: every list shows what the SDK made, details open by keyboard and read well', { skip, timeout: 180_000 }, async (t) => {
  const { f, ib, page } = await setup(t);
  // More infrastructure configurations than one page holds, for "Load more".
  for (let i = 0; i < 26; i++) await ib.send(new CreateInfrastructureConfigurationCommand({ name: `spare-${String(i).padStart(2, '0')}`, instanceProfileName: 'P' }));

  const lists: { title: string; name: string; detail: string; shows: RegExp[]; shot: string }[] = [
    { title: 'Image pipelines', name: 'nightly', detail: 'nightly', shows: [/cron\(0 3 \* \* \? \*\)/, /Europe\/Paris/, /Next run/, /Schedule history/], shot: 'pipeline' },
    { title: 'Image recipes', name: 'web', detail: 'Image recipe web 1.0.0', shows: [/debian-12-x86/, /hello/], shot: 'image-recipe' },
    { title: 'Container recipes', name: 'app', detail: 'Container recipe app 1.0.0', shows: [/greeting\s*=\s*yo/, /team\/app/, /imagebuilder:parentImage/], shot: 'container-recipe' },
    { title: 'Components', name: 'hello', detail: 'Component hello 1.0.0', shows: [/echo \{\{ greeting \}\}/, /greeting/, /says hello/], shot: 'component' },
    { title: 'Infrastructure configurations', name: 'build-infra', detail: 'Infrastructure configuration build-infra', shows: [/ns\.small/, /BuildProfile/, /Keep instance on failure\s*yes/], shot: 'infrastructure' },
    { title: 'Distribution configurations', name: 'Ship It', detail: 'Distribution configuration Ship It', shows: [/local/, /container image/, /latest/], shot: 'distribution' },
    { title: 'Lifecycle policies', name: 'Keep Recent', detail: 'Lifecycle policy Keep Recent', shows: [/DELETE \(AMIs, snapshots\) images older than 6 months, keeping at least 2/, /LifecycleRole/], shot: 'lifecycle-policy' },
  ];
  for (const list of lists) {
    await openSection(page, list.title);
    const row = page.getByRole('table').getByRole('link', { name: list.name, exact: true });
    await row.waitFor();
    await screenshot(page, `list-${list.shot}s`);
    await tabToAndEnter(page, list.name);
    await heading(page, list.detail);
    const text = await page.locator('main').innerText();
    for (const shown of list.shows) assert.match(text, shown, `${list.detail} shows ${shown}`);
    await screenshot(page, `detail-${list.shot}`);
  }

  // The pipeline list has the way to the wizard, and next/last run columns.
  await openSection(page, 'Image pipelines');
  assert.equal(await page.getByRole('link', { name: 'Create image pipeline' }).getAttribute('href'), '#/create-pipeline');
  const headers = await page.getByRole('columnheader').allInnerTexts();
  for (const h of ['Name', 'Status', 'Schedule', 'Next run', 'Last run']) assert.ok(headers.includes(h), `pipeline list has ${h}`);

  // Pagination: 27 configurations, 25 a page.
  await openSection(page, 'Infrastructure configurations');
  const rows = page.getByRole('table').locator('tbody tr');
  await page.getByRole('button', { name: 'Load more' }).waitFor();
  assert.equal(await rows.count(), 25);
  await page.getByRole('button', { name: 'Load more' }).click();
  await page.waitForFunction(() => document.querySelectorAll('main table tbody tr').length === 27);
  assert.equal(await page.getByRole('button', { name: 'Load more' }).count(), 0, 'no more pages');

  // Components by owner: Amazon's list is another query.
  await openSection(page, 'Components');
  await page.getByRole('table').getByRole('link', { name: 'hello', exact: true }).waitFor();
  await page.getByLabel('Amazon managed').check();
  await page.getByRole('table').getByRole('link', { name: 'hello', exact: true }).waitFor({ state: 'detached' });
  await page.getByRole('table').getByRole('link', { name: 'update-linux', exact: true }).waitFor();

  // Phone width: the lists and a detail fit.
  const phone = await openConsole(page.context().browser()!, `${f.server.consoleUrl}#/container-recipes`, { width: 390, height: 844 });
  await signIn(phone, f.credentials);
  await phone.getByRole('table').getByRole('link', { name: 'app' }).click();
  await heading(phone, 'Container recipe app 1.0.0');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the recipe page fits a phone (overflow ${overflow}px)`);
  await screenshot(phone, 'detail-container-recipe-phone');
});

test('console components: the YAML editor validates as kiln toe validate does, creates, and a delete in use is explained', { skip, timeout: 180_000 }, async (t) => {
  const { made, page } = await setup(t);
  await openSection(page, 'Components');
  await page.getByRole('link', { name: 'New component' }).click();
  await heading(page, 'New component');

  const editor = page.getByLabel('Document (YAML)');
  const bad = DOC.replace('ExecuteBash', 'ExecuteNothing');
  await page.getByLabel('Name', { exact: true }).fill('greeter');
  await editor.fill(bad);
  await page.getByRole('button', { name: 'Validate' }).click();
  const problems = page.locator('#component-data-error');
  await problems.waitFor();
  assert.match(await problems.innerText(), /phases\[0\]\.steps\[0\]\.action: unknown action module "ExecuteNothing"/);
  assert.equal(await editor.getAttribute('aria-invalid'), 'true');
  assert.equal(await editor.getAttribute('aria-describedby'), 'component-data-error');
  await screenshot(page, 'component-editor-invalid');

  // Create with the bad document: CreateComponent's own error lands at the editor too, with the path.
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForFunction(() => document.querySelector('#component-data-error')?.textContent?.includes('ExecuteNothing') && !document.querySelector('button[type=submit]')?.hasAttribute('disabled'));
  assert.match(await problems.innerText(), /phases\[0\]\.steps\[0\]\.action/);

  // A field the API refuses gets its message next to it.
  await editor.fill(DOC);
  await page.getByLabel('Name', { exact: true }).fill('x');
  await page.getByRole('button', { name: 'Create' }).click();
  const nameError = page.locator('#component-name-error');
  await nameError.waitFor();
  assert.match(await nameError.innerText(), /3-128 characters/);
  assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
  assert.equal(await page.getByLabel('Name', { exact: true }).getAttribute('aria-describedby'), 'component-name-error');
  await screenshot(page, 'component-editor-field-error');

  await page.getByLabel('Name', { exact: true }).fill('greeter');
  await page.getByRole('button', { name: 'Validate' }).click();
  await page.getByText('The document is valid.').waitFor();
  await page.getByRole('button', { name: 'Create' }).click();
  await heading(page, 'Component greeter 1.0.0');
  assert.match(await page.getByLabel('Component document').innerText(), /ExecuteBash/);

  // New version: the editor starts from this one, with the next patch version.
  await page.getByRole('link', { name: 'New version' }).click();
  await heading(page, 'New component version');
  await page.waitForFunction(() => (document.querySelector('input[name=semanticVersion]') as HTMLInputElement | null)?.value === '1.0.1');
  assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), 'greeter');
  await page.getByRole('button', { name: 'Create' }).click();
  await heading(page, 'Component greeter 1.0.1');

  // Deleting a component a recipe uses: refused, and the recipes are named with links.
  await page.goto(`${page.url().split('#')[0]}#/components/${encodeURIComponent(made.componentArn)}`);
  await heading(page, 'Component hello 1.0.0');
  await page.getByRole('button', { name: 'Delete' }).click();
  const confirm = page.getByRole('group', { name: /Delete the component hello 1\.0\.0\?/ });
  await confirm.waitFor();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  const text = await alert.innerText();
  assert.match(text, /In use by .*: delete or update those first/);
  assert.match(text, /ResourceDependencyException/);
  assert.equal(await alert.getByRole('link', { name: 'container recipe app 1.0.0' }).getAttribute('href'), `#/container-recipes/${encodeURIComponent(made.containerRecipeArn)}`);
  assert.equal(await alert.getByRole('link', { name: 'image recipe web 1.0.0' }).count(), 1);
  await screenshot(page, 'component-delete-in-use');

  // An unused one goes, by keyboard: Delete, then the confirmation takes focus.
  await page.goto(`${page.url().split('#')[0]}#/components`);
  await page.getByRole('row', { name: /greeter 1\.0\.1/ }).getByRole('link', { name: 'greeter' }).click();
  await heading(page, 'Component greeter 1.0.1');
  await page.getByRole('button', { name: 'Delete' }).focus();
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Yes, delete');
  await page.keyboard.press('Enter');
  await heading(page, 'Components');
  await page.getByRole('table').getByRole('link', { name: 'hello', exact: true }).waitFor();
  assert.equal(await page.getByRole('table').getByRole('cell', { name: '1.0.1' }).count(), 0, 'greeter 1.0.1 is gone');
});

test('console pipelines: Run pipeline lands on the PENDING image, Cancel build ends it CANCELLED; enable and disable', { skip, timeout: 180_000 }, async (t) => {
  const { made, page } = await setup(t);
  await openSection(page, 'Image pipelines');
  await page.getByRole('table').getByRole('link', { name: 'nightly' }).click();
  await heading(page, 'nightly');

  await page.getByRole('button', { name: 'Disable pipeline' }).click();
  await page.getByRole('button', { name: 'Enable pipeline' }).waitFor();
  assert.match(await page.locator('main').innerText(), /DISABLED/);
  await page.getByRole('button', { name: 'Enable pipeline' }).click();
  await page.getByRole('button', { name: 'Disable pipeline' }).waitFor();

  await page.getByRole('button', { name: 'Run pipeline', exact: true }).click();
  await page.waitForURL(/#\/images\//);
  const arn = decodeURIComponent(page.url().split('#/images/')[1]!);
  assert.match(arn, /:image\/app\/1\.0\.0\/1$/);
  await heading(page, 'Image app 1.0.0/1');
  await page.waitForFunction(() => document.querySelector('[data-testid=image-status]')?.textContent === 'PENDING');
  assert.equal(await statusOf(page).innerText(), 'PENDING');
  await page.locator('section[aria-label="Step logs"]').waitFor();
  assert.match(await page.locator('main').innerText(), /Vulnerability scan\s+Scanning\s+off/);
  await screenshot(page, 'image-pending');

  await page.getByRole('button', { name: 'Cancel build' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=image-status]')?.textContent === 'CANCELLED');
  assert.match(await page.getByTestId('image-status-reason').innerText(), /cancelled by CancelImageCreation/);
  assert.equal(await page.getByRole('button', { name: 'Cancel build' }).count(), 0);
  await screenshot(page, 'image-cancelled');
  await page.getByLabel('Theme').selectOption('dark');
  await screenshot(page, 'image-cancelled-dark');
  await page.getByLabel('Theme').selectOption('light');

  // The image is in the pipeline's images and the image list.
  await page.goto(`${page.url().split('#')[0]}#/pipelines/${encodeURIComponent(made.imagePipelineArn)}`);
  await heading(page, 'nightly');
  await page.getByRole('table', { name: /Images this pipeline built/ }).getByRole('link', { name: 'app 1.0.0/1' }).waitFor();
  await screenshot(page, 'pipeline-after-run');
  await openSection(page, 'Images');
  await page.getByRole('table').getByRole('cell', { name: 'CANCELLED' }).waitFor();
  await screenshot(page, 'list-images');
});

test('console image page: live step logs follow a running step until the image is AVAILABLE, with the build plan and URIs; Retry on a FAILED image', { skip, timeout: 180_000 }, async (t) => {
  const { f, ib, made, page } = await setup(t);
  const arn = (await ib.send(new StartImagePipelineExecutionCommand({ imagePipelineArn: made.imagePipelineArn }))).imageBuildVersionArn!;
  // A build, played by hand in the store the way the build engine writes it.
  const store = openStore(f.dataDir);
  t.after(() => store.close());
  const recorder = new ExecutionRecorder(store, path.join(f.dataDir, 'logs'));
  await page.goto(`${f.server.consoleUrl}#/images/${encodeURIComponent(arn)}`);
  await heading(page, 'Image app 1.0.0/1');
  const logs = page.locator('section[aria-label="Step logs"]');
  await logs.getByText('No step has started yet.').waitFor();

  const setState = (status: string, patch: Record<string, unknown> = {}) => store.updateResource(arn, (current) => ({ ...current.data, ...patch, state: { status } }));
  const plan = {
    parent: { requested: 'amazonlinux:latest', resolved: 'registry.example/amazonlinux:latest', manifestDigest: 'sha256:0123abcd', source: 'registry' },
    components: [{ requested: made.componentArn, arn: made.componentArn, type: 'BUILD', sha256: 'ff', parameters: { greeting: 'yo' } }],
  };
  await setState('BUILDING', { buildPlan: plan });
  const image = (await store.getResource(arn))!;
  const wf = await recorder.startWorkflow({ image, type: 'BUILD', workflowBuildVersionArn: 'arn:aws:imagebuilder:local:aws:workflow/build/build-container/1.0.0/1', totalStepCount: 2 });
  const step = await wf.startStep({ name: 'BuildContainer', action: 'ExecuteComponents' });
  step.log('build plan: resolving\nstep one done\n');
  await page.waitForFunction(() => document.querySelector('[data-testid=image-status]')?.textContent === 'BUILDING', undefined, { timeout: 15_000 });
  await logs.getByText('step one done').waitFor({ timeout: 15_000 });
  assert.match(await logs.innerText(), /Following BuildContainer/);
  step.log('step two done\n');
  await logs.getByText('step two done').waitFor({ timeout: 15_000 });
  await page.getByText('registry.example/amazonlinux:latest').waitFor({ timeout: 15_000 });
  assert.match(await page.getByRole('table', { name: /Components, in the order they ran/ }).innerText(), /greeting=yo/);
  await screenshot(page, 'image-building-live-logs');

  step.log('last words\n');
  await step.finish('COMPLETED');
  const second = await wf.startStep({ name: 'Distribute', action: 'DistributeImage' });
  second.log('pushed\n');
  await second.finish('COMPLETED');
  await wf.finish('COMPLETED');
  const uri = `${f.server.registryHost}/team/app:1.0.0-1`;
  await setState('AVAILABLE', { outputResources: { containers: [{ region: 'local', imageUris: [uri] }] } });
  await page.waitForFunction(() => document.querySelector('[data-testid=image-status]')?.textContent === 'AVAILABLE', undefined, { timeout: 15_000 });
  await logs.getByText('pushed').waitFor({ timeout: 15_000 });
  const all = await logs.innerText();
  for (const line of ['step one done', 'step two done', 'last words', 'pushed']) assert.ok(all.includes(line), `the log shows ${line}`);
  assert.deepEqual(await page.getByTestId('image-uris').getByRole('listitem').allInnerTexts(), [uri]);
  const workflows = await page.getByRole('table', { name: /Build workflow/ }).innerText();
  assert.match(workflows, /BuildContainer\s+ExecuteComponents\s+COMPLETED/);
  assert.equal(await page.getByRole('button', { name: 'Cancel build' }).count(), 0);
  await screenshot(page, 'image-available');
  await page.getByLabel('Theme').selectOption('dark');
  await screenshot(page, 'image-available-dark');

  // At a phone's width the image page, logs and tables included, fits the screen.
  const phone = await openConsole(page.context().browser()!, `${f.server.consoleUrl}#/images/${encodeURIComponent(arn)}`, { width: 390, height: 844 });
  await signIn(phone, f.credentials);
  await phone.locator('section[aria-label="Step logs"]').getByText('pushed').waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the image page fits a phone (overflow ${overflow}px)`);
  await screenshot(phone, 'image-available-phone');

  // Retry (RetryImage) is offered on a FAILED image only, and the API decides: refused for an image that failed
  // before its distribution, accepted for one whose distribution failed (it goes back to DISTRIBUTING).
  assert.equal(await page.getByRole('button', { name: 'Retry' }).count(), 0, 'no Retry on an AVAILABLE image');
  const failed = (await ib.send(new CreateImageCommand({ containerRecipeArn: made.containerRecipeArn, infrastructureConfigurationArn: made.infrastructureConfigurationArn }))).imageBuildVersionArn!;
  await store.updateResource(failed, (current) => ({ ...current.data, state: { status: 'FAILED', reason: 'step Say exited with code 1' } }));
  await page.goto(`${f.server.consoleUrl}#/images/${encodeURIComponent(failed)}`);
  await heading(page, 'Image app 1.0.0/2');
  await page.getByRole('button', { name: 'Retry' }).click();
  const refused = page.getByRole('alert');
  await refused.waitFor();
  assert.match(await refused.innerText(), /Retry failed: .*failed before its distribution/);
  assert.equal(await statusOf(page).innerText(), 'FAILED');
  await store.updateResource(failed, (current) => ({
    ...current.data,
    state: { status: 'FAILED', reason: 'distribution failed: the registry did not answer' },
    distribution: { attempts: 1, regions: [] },
    containerImage: { digest: 'sha256:0123abcd' },
  }));
  await page.getByRole('button', { name: 'Retry' }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid=image-status]')?.textContent === 'DISTRIBUTING', undefined, { timeout: 15_000 });
  assert.equal(await page.getByRole('button', { name: 'Retry' }).count(), 0);
  assert.equal(await page.getByRole('alert').count(), 0, 'the earlier refusal is gone');
  assert.equal((await ib.send(new GetImageCommand({ imageBuildVersionArn: failed }))).image?.state?.status, 'DISTRIBUTING');
  await screenshot(page, 'image-retried');
});
