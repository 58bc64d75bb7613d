import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateComponentCommand, CreateContainerRecipeCommand, CreateImageCommand, CreateInfrastructureConfigurationCommand } from '@aws-sdk/client-imagebuilder';
import { bashComponent } from '../build/helpers.js';
import { startFixture } from '../api/fixture.js';
import { browserSkipReason, launchBrowser, openConsole, screenshot, signIn } from './harness.js';

const skip = browserSkipReason();

test('console: a wrong secret gets a clear error; the right one signs in; keyboard only and phone width work', { skip, timeout: 120_000 }, async (t) => {
  const f = await startFixture(t);
  const browser = await launchBrowser(t);
  const page = await openConsole(browser, f.server.consoleUrl);
  await signIn(page, { accessKeyId: f.credentials.accessKeyId, secretAccessKey: 'not-the-secret' });
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.innerText(), /Sign-in failed: .*signature/i);
  await screenshot(page, 'signin-wrong-secret');

  // Keyboard only: the fields and the button are reached with Tab and the form is sent with Enter.
  await page.getByLabel('Secret access key').fill('');
  await page.getByLabel('Access key id').focus();
  await page.keyboard.press('Tab');
  await page.keyboard.type(f.credentials.secretAccessKey);
  await page.keyboard.press('Enter');
  await page.getByRole('navigation', { name: 'Resources' }).waitFor();
  assert.equal(await page.getByRole('alert').count(), 0);
  assert.equal(await page.evaluate(() => sessionStorage.length), 1, 'the key is kept in the session only');
  assert.equal(await page.evaluate(() => localStorage.getItem('kiln-console-session')), null);

  const phone = await openConsole(browser, f.server.consoleUrl, { width: 390, height: 844 });
  await signIn(phone, f.credentials);
  await phone.getByRole('navigation', { name: 'Resources' }).waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `the page fits a phone's width (overflow ${overflow}px)`);
  await screenshot(phone, 'signed-in-phone');
});

test('console: Kiln stops promptly while a console tab holds its event stream open', { skip, timeout: 120_000 }, async (t) => {
  const f = await startFixture(t);
  const ib = f.client();
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'hello', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['echo hi'] }) }))).componentBuildVersionArn!;
  const recipe = (
    await ib.send(
      new CreateContainerRecipeCommand({ containerType: 'DOCKER', name: 'app', semanticVersion: '1.0.0', parentImage: 'debian:12', targetRepository: { service: 'ECR', repositoryName: 'team/app' }, components: [{ componentArn }], dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n' }),
    )
  ).containerRecipeArn!;
  const infra = (await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'infra', instanceProfileName: 'Profile' }))).infrastructureConfigurationArn!;
  const image = (await ib.send(new CreateImageCommand({ containerRecipeArn: recipe, infrastructureConfigurationArn: infra }))).imageBuildVersionArn!;
  const browser = await launchBrowser(t);
  const page = await openConsole(browser, `${f.server.consoleUrl}#/images/${encodeURIComponent(image)}`);
  await signIn(page, f.credentials);
  await page.getByTestId('image-status').waitFor();
  // The PENDING image's page follows the event stream; give it a moment to connect.
  await page.waitForTimeout(1000);
  const started = Date.now();
  await f.server.close();
  const took = Date.now() - started;
  assert.ok(took < 10_000, `Kiln closed in ${took} ms with the console open`);
});
