import { test } from 'node:test';
import assert from 'node:assert/strict';
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
