import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateComponentCommand,
  GetContainerRecipeCommand,
  GetDistributionConfigurationCommand,
  GetImagePipelineCommand,
  GetImageRecipeCommand,
  GetInfrastructureConfigurationCommand,
  ListContainerRecipesCommand,
  ListDistributionConfigurationsCommand,
  ListInfrastructureConfigurationsCommand,
} from '@aws-sdk/client-imagebuilder';
import type { Page } from 'playwright-core';
import { SAY_HI_DOCUMENT, startFixture } from '../api/fixture.js';
import { bashComponent, buildSkipReason, pushHostBase, run, startBuildServer } from '../build/helpers.js';
import { browserSkipReason, launchBrowser, openConsole, screenshot, signIn } from './harness.js';

const skip = browserSkipReason() ?? buildSkipReason();

/** The step the wizard shows (its `aria-current="step"` item). */
async function currentStep(page: Page): Promise<string> {
  return (await page.locator('ol.steps li[aria-current="step"]').innerText()).trim();
}

/** Waits until the wizard shows the step whose title contains `title`. */
async function onStep(page: Page, title: string): Promise<void> {
  await page.locator('ol.steps li[aria-current="step"]', { hasText: title }).waitFor();
  await page.getByRole('heading', { level: 2, name: new RegExp(`: ${title}`) }).waitFor();
}

/** The accessible description of a field: its hint and the API's messages (aria-describedby). */
async function fieldError(page: Page, id: string): Promise<{ text: string; invalid: string | null; describedBy: string }> {
  const input = page.locator(`#${id}`);
  const error = page.locator(`#${id}-error`);
  await error.waitFor();
  return { text: await error.innerText(), invalid: await input.getAttribute('aria-invalid'), describedBy: (await input.getAttribute('aria-describedby')) ?? '' };
}

test('console wizard: a container pipeline with a new recipe, infrastructure and distribution, the server\'s errors next to the fields, run to AVAILABLE with live logs', { skip, timeout: 900_000 }, async (t) => {
  const kiln = await startBuildServer(t);
  const base = await pushHostBase(t, kiln, 'bases/wizard-base');
  await kiln.client.send(
    new CreateComponentCommand({
      name: 'wizard-hello',
      semanticVersion: '1.0.0',
      platform: 'Linux',
      description: 'writes a greeting',
      data: bashComponent(
        {
          build: ['echo "building the greeting"', 'mkdir -p /opt/hello', 'for i in 1 2 3; do echo "step $i"; sleep 1; done', 'echo "{{ greeting }}" > /opt/hello/greeting'],
          validate: ['grep -q . /opt/hello/greeting'],
          test: ['test "$(cat /opt/hello/greeting)" = "hello from the wizard"'],
        },
        { greeting: 'default' },
      ),
    }),
  );

  const browser = await launchBrowser(t);
  const page = await openConsole(browser, kiln.server.consoleUrl);
  await signIn(page, kiln.credentials);
  await page.getByRole('link', { name: 'Create image pipeline' }).click();
  await page.getByRole('heading', { level: 1, name: 'Create image pipeline' }).waitFor();
  assert.match(page.url(), /#\/create-pipeline$/);

  // Step 1: details. The builder writes the cron expression and shows five runs in the chosen zone; then a bad
  // custom expression is typed: nothing in the browser refuses it, the API will.
  await onStep(page, 'Pipeline details');
  assert.equal(await page.locator('ol.steps li').count(), 5);
  await page.getByLabel('Pipeline name').fill('wizard-pipeline');
  await page.getByLabel('Description', { exact: true }).fill('made in the console');
  await page.getByLabel('Frequency').selectOption('weekly');
  await page.getByLabel('Time of day').fill('03:30');
  await page.getByLabel('Wednesday').check();
  assert.equal(await page.getByLabel('Schedule expression').inputValue(), 'cron(30 3 ? * MON,WED *)');
  await page.getByLabel('Time zone').selectOption('Europe/Paris');
  const runs = page.locator('[data-testid="next-runs"] li');
  await runs.first().waitFor();
  assert.equal(await runs.count(), 5, 'the next five runs');
  for (const text of await runs.allInnerTexts()) assert.match(text, /(Mon|Wed).*03:30/, `a run on Monday or Wednesday at 03:30 Paris time: ${text}`);
  assert.ok(await page.getByLabel('Only when dependencies changed').isChecked(), 'the default start condition');
  await page.getByLabel('Schedule expression').fill('cron(0 25 * * ? *)');
  assert.equal(await page.getByLabel('Frequency').inputValue(), 'custom', 'typing an expression makes it custom');
  assert.equal(await page.locator('#pipeline-schedule-error').count(), 0, 'no error before the API answers');
  await screenshot(page, 'wizard-1-details');
  await page.getByRole('button', { name: 'Next' }).click();

  // Step 2: a new container recipe. A bad repository name first: the recipe is created on Next, so the API's
  // message appears next to Target repository and the step stays.
  await onStep(page, 'Recipe');
  await page.getByLabel('Create a new recipe').check();
  await page.getByLabel('Container image (Docker)').check();
  await page.getByLabel('Recipe name').fill('wizard-recipe');
  await page.getByLabel('Version', { exact: true }).fill('1.0.0');
  await page.getByLabel('Base image', { exact: true }).selectOption('other');
  await page.getByLabel('Base image reference').fill(base);
  await page.getByLabel('Component', { exact: true }).selectOption({ label: 'wizard-hello — BUILD Linux' });
  await page.getByRole('button', { name: 'Add component' }).click();
  await page.getByLabel('Version of wizard-hello').selectOption('1.x.x');
  await page.getByLabel('greeting').fill('hello from the wizard');
  assert.equal(await page.getByLabel('Dockerfile template').inputValue(), 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}\n');
  await page.getByLabel('Target repository').fill('Wizard Hello');
  await page.getByRole('button', { name: 'Next' }).click();
  const repoError = await fieldError(page, 'recipe-repository');
  assert.match(repoError.text, /lower-case letters and digits/, 'the server\'s message for targetRepository.repositoryName');
  assert.equal(repoError.invalid, 'true');
  assert.ok(repoError.describedBy.split(' ').includes('recipe-repository-error'));
  assert.match(await currentStep(page), /Recipe/, 'the step stays while the API refuses the recipe');
  assert.equal((await kiln.client.send(new ListContainerRecipesCommand({}))).containerRecipeSummaryList?.length, 0);
  await page.getByLabel('Target repository').fill('wizard/hello');
  await screenshot(page, 'wizard-2-recipe');
  await page.getByRole('button', { name: 'Next' }).click();

  // Step 3: a new infrastructure configuration.
  await onStep(page, 'Infrastructure configuration');
  await page.getByLabel('Create a new infrastructure configuration').check();
  await page.getByLabel('Infrastructure name').fill('wizard-infra');
  assert.ok(await page.getByLabel(/^ns\.small/).isChecked(), 'ns.small is the default instance type');
  assert.equal(await page.getByLabel('Keep the instance when a build fails').isChecked(), false);
  await screenshot(page, 'wizard-3-infrastructure');
  await page.getByRole('button', { name: 'Next' }).click();

  // Step 4: a new distribution configuration to another repository of Kiln's registry.
  await onStep(page, 'Distribution');
  await page.getByLabel('Create a new distribution configuration').check();
  await page.getByLabel('Distribution name').fill('wizard-dist');
  assert.equal(await page.getByLabel('Regions').inputValue(), 'local', 'the session\'s region');
  await page.getByLabel('Container repository').fill('wizard/published');
  await page.getByLabel('Container tags').fill('latest, stable');
  await screenshot(page, 'wizard-4-distribution');
  await page.getByRole('button', { name: 'Next' }).click();

  // Step 5: review, then Create: the API refuses the schedule and the wizard goes back to step 1 with its message.
  await onStep(page, 'Review and create');
  const review = page.locator('form.wizard-step');
  for (const text of ['wizard-pipeline', 'cron(0 25 * * ? *)', 'Europe/Paris', 'container-recipe/wizard-recipe/1.0.0', 'infrastructure-configuration/wizard-infra', 'distribution-configuration/wizard-dist', 'wizard-hello/1.x.x']) {
    assert.ok((await review.innerText()).includes(text), `the review shows ${text}`);
  }
  await screenshot(page, 'wizard-5-review');
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  await onStep(page, 'Pipeline details');
  const scheduleError = await fieldError(page, 'pipeline-schedule');
  assert.match(scheduleError.text, /cron field 2 \(hours\): "25": 25 is out of range 0-23/, `the server's message: ${scheduleError.text}`);
  assert.equal(scheduleError.invalid, 'true');
  assert.ok(scheduleError.describedBy.split(' ').includes('pipeline-schedule-error'));
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'pipeline-schedule', 'focus moves to the field the API named');
  assert.match(await page.getByRole('alert').innerText(), /The pipeline was not created/);
  await screenshot(page, 'wizard-1-details-server-error');

  // Fix it; the recipe and configurations made on Next are reused, not made again.
  await page.getByLabel('Schedule expression').fill('cron(0 4 * * ? *)');
  for (const title of ['Recipe', 'Infrastructure configuration', 'Distribution', 'Review and create']) {
    await page.getByRole('button', { name: 'Next' }).click();
    await onStep(page, title);
  }
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  await page.waitForURL(/#\/pipelines\/arn/);
  const pipelineArn = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/pipelines\//, ''));
  assert.match(pipelineArn, /:image-pipeline\/wizard-pipeline$/);

  const pipeline = (await kiln.client.send(new GetImagePipelineCommand({ imagePipelineArn: pipelineArn }))).imagePipeline!;
  assert.equal(pipeline.description, 'made in the console');
  assert.equal(pipeline.schedule?.scheduleExpression, 'cron(0 4 * * ? *)');
  assert.equal(pipeline.schedule?.timezone, 'Europe/Paris');
  assert.equal(pipeline.schedule?.pipelineExecutionStartCondition, 'EXPRESSION_MATCH_AND_DEPENDENCY_UPDATES_AVAILABLE');
  assert.equal(pipeline.imageTestsConfiguration?.imageTestsEnabled, true);
  assert.equal((await kiln.client.send(new ListContainerRecipesCommand({}))).containerRecipeSummaryList?.length, 1, 'one recipe, made once');
  assert.equal((await kiln.client.send(new ListInfrastructureConfigurationsCommand({}))).infrastructureConfigurationSummaryList?.length, 1);
  assert.equal((await kiln.client.send(new ListDistributionConfigurationsCommand({}))).distributionConfigurationSummaryList?.length, 1);
  const recipe = (await kiln.client.send(new GetContainerRecipeCommand({ containerRecipeArn: pipeline.containerRecipeArn }))).containerRecipe!;
  assert.equal(recipe.parentImage, base);
  assert.equal(recipe.targetRepository?.repositoryName, 'wizard/hello');
  assert.match(recipe.components?.[0]?.componentArn ?? '', /component\/wizard-hello\/1\.x\.x$/);
  assert.deepEqual(recipe.components?.[0]?.parameters, [{ name: 'greeting', value: ['hello from the wizard'] }]);
  const infra = (await kiln.client.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: pipeline.infrastructureConfigurationArn }))).infrastructureConfiguration!;
  assert.deepEqual(infra.instanceTypes, ['ns.small']);
  assert.equal(infra.terminateInstanceOnFailure, true);
  const dist = (await kiln.client.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: pipeline.distributionConfigurationArn }))).distributionConfiguration!;
  assert.deepEqual(dist.distributions?.map((d) => [d.region, d.containerDistributionConfiguration?.targetRepository?.repositoryName, d.containerDistributionConfiguration?.containerTags]), [
    ['local', 'wizard/published', ['latest', 'stable']],
  ]);

  // Run it from the pipeline's page and watch the image build, with its step logs live, to AVAILABLE.
  await page.getByRole('button', { name: 'Run pipeline' }).click();
  await page.waitForURL(/#\/images\/arn/);
  const status = page.locator('[data-testid="image-status"]');
  const logs = page.locator('section[aria-label="Step logs"] pre');
  await status.waitFor();
  let logsBeforeAvailable = '';
  const deadline = Date.now() + 600_000;
  for (;;) {
    const state = (await status.innerText()).trim();
    if (state === 'AVAILABLE') break;
    assert.ok(!['FAILED', 'CANCELLED'].includes(state), `the build ended ${state}: ${await page.locator('[data-testid="image-status-reason"]').allInnerTexts()}`);
    if (logsBeforeAvailable === '') logsBeforeAvailable = (await logs.allInnerTexts()).join('\n').trim();
    assert.ok(Date.now() < deadline, `the image is still ${state}`);
    await sleep(200);
  }
  assert.notEqual(logsBeforeAvailable, '', 'step logs showed lines while the image was building');
  await screenshot(page, 'wizard-6-image-available');

  const uriList = page.locator('[data-testid="image-uris"] li');
  await uriList.first().waitFor();
  const uris = (await uriList.allInnerTexts()).map((u) => u.trim().split(/\s/)[0]!);
  const built = uris.find((u) => u.startsWith(`${kiln.server.registryHost}/wizard/hello:`));
  assert.ok(built, `the image URI in Kiln's registry: ${uris.join(', ')}`);
  assert.ok(uris.includes(`${kiln.server.registryHost}/wizard/published:latest`), `the distributed URI: ${uris.join(', ')}`);
  const creds = `${kiln.credentials.accessKeyId}:${kiln.credentials.secretAccessKey}`;
  const inspected = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${built}`])) as { Digest: string; Layers: string[] };
  assert.equal(inspected.Layers.length, 2, 'the base layer and the build layer');
  const published = JSON.parse(await run('skopeo', ['inspect', '--tls-verify=false', '--creds', creds, `docker://${kiln.server.registryHost}/wizard/published:stable`])) as { Digest: string };
  assert.equal(published.Digest, inspected.Digest, 'the distributed tag is the same image');

  // The wizard at a phone's width, dark: nothing wider than the screen.
  const phone = await openConsole(browser, kiln.server.consoleUrl, { width: 390, height: 844 });
  await signIn(phone, kiln.credentials);
  await phone.getByLabel('Theme').selectOption('dark');
  await phone.getByRole('link', { name: 'Create image pipeline' }).click();
  await onStep(phone, 'Pipeline details');
  await phone.getByLabel('Frequency').selectOption('weekly');
  await phone.locator('[data-testid="next-runs"] li').first().waitFor();
  const overflow = async () => phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok((await overflow()) <= 0, `step 1 fits a phone's width (overflow ${await overflow()}px)`);
  await screenshot(phone, 'wizard-1-details-phone-dark');
  // Keyboard only: Enter in a field sends the step's form (Next).
  await phone.getByLabel('Pipeline name').focus();
  await phone.keyboard.type('phone-pipeline');
  await phone.keyboard.press('Enter');
  await onStep(phone, 'Recipe');
  await phone.getByLabel('Component', { exact: true }).selectOption({ label: 'wizard-hello — BUILD Linux' });
  await phone.getByRole('button', { name: 'Add component' }).click();
  await phone.getByLabel('greeting').waitFor();
  assert.ok((await overflow()) <= 0, `step 2 fits a phone's width (overflow ${await overflow()}px)`);
  await screenshot(phone, 'wizard-2-recipe-phone-dark');
});

/** POSTs a webhook URL with a bearer token, as a CI system would; the HTTP status. */
async function callHook(url: string, token: string): Promise<number> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}

test('console wizard: the machine-image (AMI) path makes an image recipe, infrastructure and a two-region AMI distribution with an S3 export; the pipeline\'s webhook is created, rotated and deleted', { skip: browserSkipReason(), timeout: 180_000 }, async (t) => {
  // No build runs: the path ends where the pipeline and its resources exist, checked through the API.
  const exports = mkdtempSync(path.join(tmpdir(), 'kiln-wizard-exports-'));
  t.after(() => rmSync(exports, { recursive: true, force: true }));
  const f = await startFixture(t, { config: { regions: ['local', 'eu-kiln-1'], exportBuckets: { 'wizard-exports': exports } } });
  const ib = f.client();
  await ib.send(new CreateComponentCommand({ name: 'ami-hello', semanticVersion: '1.0.0', platform: 'Linux', data: SAY_HI_DOCUMENT }));

  const browser = await launchBrowser(t);
  const page = await openConsole(browser, f.server.consoleUrl);
  const signInRegions = page.getByLabel('Region').locator('option');
  await signInRegions.nth(1).waitFor({ state: 'attached' });
  assert.deepEqual(await signInRegions.allInnerTexts(), ['local', 'eu-kiln-1'], 'the sign-in offers the configured regions');
  await signIn(page, f.credentials);
  await page.getByRole('link', { name: 'Create image pipeline' }).click();
  await onStep(page, 'Pipeline details');
  await page.getByLabel('Pipeline name').fill('ami-pipeline');
  await page.getByRole('button', { name: 'Next' }).click();

  // A new image recipe on the Kiln-managed machine base: only machine bases are offered, no container fields.
  await onStep(page, 'Recipe');
  await page.getByLabel('Create a new recipe').check();
  await page.getByLabel('Machine image (AMI)').check();
  await page.getByLabel('Recipe name').fill('ami-recipe');
  await page.getByLabel('Version', { exact: true }).fill('1.0.0');
  const managed = page.locator('#recipe-base optgroup[label="Kiln-managed"] option');
  await managed.first().waitFor({ state: 'attached' });
  const bases = await managed.evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value));
  assert.equal(bases.length, 1, `one managed machine base: ${bases.join(', ')}`);
  assert.match(bases[0]!, /:aws:image\/debian-12-x86\/x\.x\.x$/);
  await page.getByLabel('Base image', { exact: true }).selectOption(bases[0]!);
  await page.getByLabel('Component', { exact: true }).selectOption({ label: 'ami-hello — BUILD Linux' });
  await page.getByRole('button', { name: 'Add component' }).click();
  await page.getByLabel('Version of ami-hello').waitFor();
  assert.equal(await page.getByLabel('Dockerfile template').count(), 0);
  assert.equal(await page.getByLabel('Target repository').count(), 0);
  await page.getByRole('button', { name: 'Next' }).click();

  await onStep(page, 'Infrastructure configuration');
  await page.getByLabel('Create a new infrastructure configuration').check();
  await page.getByLabel('Infrastructure name').fill('ami-infra');
  await page.getByRole('button', { name: 'Next' }).click();

  // A new distribution: the regions are the server's, chosen in a select; machine-image outputs and an export.
  await onStep(page, 'Distribution');
  await page.getByLabel('Create a new distribution configuration').check();
  await page.getByLabel('Distribution name').fill('ami-dist');
  const regions = page.getByLabel('Regions');
  assert.equal(await regions.evaluate((el) => el.tagName), 'SELECT');
  await regions.locator('option').nth(1).waitFor({ state: 'attached' });
  assert.deepEqual(await regions.locator('option').allInnerTexts(), ['local', 'eu-kiln-1']);
  assert.deepEqual(await regions.evaluate((el) => [...(el as HTMLSelectElement).selectedOptions].map((o) => o.value)), ['local'], "the session's region first");
  await regions.selectOption(['local', 'eu-kiln-1']);
  assert.equal(await page.getByLabel('Container repository').count(), 0);
  await page.getByLabel('Output AMI name').fill('ami-pipeline-{{ imagebuilder:buildDate }}');
  await page.getByLabel('Launch permission: account ids').fill('123456789012');
  await page.getByLabel('Export the disk to an S3 bucket').check();
  await page.getByLabel('Export bucket').fill('wizard-exports');
  await page.getByLabel('Export prefix').fill('nightly/');
  await page.getByLabel('Disk image format').selectOption('VMDK');
  await screenshot(page, 'wizard-ami-4-distribution');
  await page.getByRole('button', { name: 'Next' }).click();

  await onStep(page, 'Review and create');
  const review = await page.locator('form.wizard-step').innerText();
  for (const text of ['ami-pipeline', 'image-recipe/ami-recipe/1.0.0', 'infrastructure-configuration/ami-infra', 'distribution-configuration/ami-dist', 'local, eu-kiln-1']) assert.ok(review.includes(text), `the review shows ${text}`);
  await page.getByRole('button', { name: 'Create pipeline' }).click();
  await page.waitForURL(/#\/pipelines\/arn/);
  const pipelineArn = decodeURIComponent(new URL(page.url()).hash.replace(/^#\/pipelines\//, ''));
  assert.match(pipelineArn, /:image-pipeline\/ami-pipeline$/);

  const pipeline = (await ib.send(new GetImagePipelineCommand({ imagePipelineArn: pipelineArn }))).imagePipeline!;
  assert.equal(pipeline.containerRecipeArn, undefined);
  assert.match(pipeline.imageRecipeArn ?? '', /:image-recipe\/ami-recipe\/1\.0\.0$/);
  const recipe = (await ib.send(new GetImageRecipeCommand({ imageRecipeArn: pipeline.imageRecipeArn }))).imageRecipe!;
  assert.equal(recipe.parentImage, bases[0]);
  assert.match(recipe.components?.[0]?.componentArn ?? '', /component\/ami-hello\/1\.x\.x$/, 'the newest 1.x version, as the wizard chooses by default');
  const infra = (await ib.send(new GetInfrastructureConfigurationCommand({ infrastructureConfigurationArn: pipeline.infrastructureConfigurationArn }))).infrastructureConfiguration!;
  assert.equal(infra.name, 'ami-infra');
  const dist = (await ib.send(new GetDistributionConfigurationCommand({ distributionConfigurationArn: pipeline.distributionConfigurationArn }))).distributionConfiguration!;
  assert.deepEqual(
    dist.distributions?.map((d) => ({ region: d.region, ami: d.amiDistributionConfiguration, s3: d.s3ExportConfiguration, container: d.containerDistributionConfiguration })),
    ['local', 'eu-kiln-1'].map((region) => ({
      region,
      ami: { name: 'ami-pipeline-{{ imagebuilder:buildDate }}', launchPermission: { userIds: ['123456789012'] } },
      s3: { roleName: 'kiln', diskImageFormat: 'VMDK', s3Bucket: 'wizard-exports', s3Prefix: 'nightly/' },
      container: undefined,
    })),
  );

  // The pipeline's webhook: created with its token shown once, rotated (the old URL and token stop working), deleted.
  const webhook = page.locator('section[aria-labelledby="pipeline-webhook-heading"]');
  await webhook.getByText(/^No webhook\./).waitFor();
  await webhook.getByRole('button', { name: 'Create webhook' }).click();
  const secret = page.getByRole('region', { name: 'New webhook token' });
  await secret.waitFor();
  const first = { url: await secret.getByTestId('webhook-url').inputValue(), token: await secret.getByTestId('webhook-token').inputValue() };
  assert.match(first.url, new RegExp(`^${f.server.endpoint}/kiln/hooks/pipelines/[0-9a-f]{24}$`));
  assert.ok(first.token.length >= 32, 'a token');
  await screenshot(page, 'pipeline-webhook-created');
  assert.notEqual(await callHook(first.url, first.token), 403, 'the token shown is accepted');
  await secret.getByRole('button', { name: 'Done' }).click();
  await secret.waitFor({ state: 'detached' });
  assert.equal(await webhook.getByTestId('webhook-url').innerText(), first.url, 'the URL stays shown, the token does not');
  assert.equal(await page.getByText(first.token).count(), 0);

  await webhook.getByRole('button', { name: 'Rotate token' }).click();
  await secret.waitFor();
  const second = { url: await secret.getByTestId('webhook-url').inputValue(), token: await secret.getByTestId('webhook-token').inputValue() };
  assert.notEqual(second.url, first.url);
  assert.notEqual(second.token, first.token);
  assert.equal(await callHook(first.url, first.token), 403, 'the old URL and token are refused after a rotation');
  assert.equal(await callHook(second.url, first.token), 403, 'the old token is refused on the new URL');
  assert.notEqual(await callHook(second.url, second.token), 403);

  await webhook.getByRole('button', { name: 'Delete webhook' }).click();
  await webhook.getByRole('group', { name: /Delete the webhook\?/ }).getByRole('button', { name: 'Yes, delete the webhook' }).click();
  await webhook.getByText(/^No webhook\./).waitFor();
  assert.equal(await secret.count(), 0);
  assert.equal(await callHook(second.url, second.token), 403, 'a deleted webhook is refused');
  await webhook.getByRole('button', { name: 'Create webhook' }).waitFor();
});
