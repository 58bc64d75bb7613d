import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateComponentCommand,
  GetContainerRecipeCommand,
  GetDistributionConfigurationCommand,
  GetImagePipelineCommand,
  GetInfrastructureConfigurationCommand,
  ListContainerRecipesCommand,
  ListDistributionConfigurationsCommand,
  ListInfrastructureConfigurationsCommand,
} from '@aws-sdk/client-imagebuilder';
import type { Page } from 'playwright-core';
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
