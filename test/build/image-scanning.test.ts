/**
 * Image scanning end to end on the managed Debian 12 base: a feed served by a local HTTP server (nothing is
 * downloaded) marks bash vulnerable below a version above the installed one and fixed below it; the scanned
 * image has the finding in AWS's shape through the stock SDK, the aggregations count it, and a feed update
 * through `kiln vulnerabilities update` adds a finding to the existing image with an event. A second image,
 * tests disabled, shows the scan abandoned with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateComponentCommand,
  CreateContainerRecipeCommand,
  CreateImageCommand,
  CreateInfrastructureConfigurationCommand,
  GetImageCommand,
  ListImageScanFindingAggregationsCommand,
  ListImageScanFindingsCommand,
  ListWorkflowExecutionsCommand,
  ListWorkflowStepExecutionsCommand,
} from '@aws-sdk/client-imagebuilder';
import { openStore } from '../../src/app/store-open.js';
import { createAccount } from '../../src/service/accounts.js';
import { bashComponent, buildSkipReason, mirrorSkipReason, startBuildServer, waitForImage } from './helpers.js';
import { data, openStream } from '../api/event-stream.js';
import type { Fixture } from '../api/fixture.js';
import { kilnAs } from '../helpers/kiln-cli.js';
import { browserSkipReason, launchBrowser, openConsole, screenshot, signIn } from '../console/harness.js';

const CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H';
const HIGH = 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H';

/** An OSV record for bash in Debian 12, fixed in `fixed`. */
const bashAdvisory = (id: string, fixed: string, vector: string) => ({
  id,
  modified: '2026-12-01T00:00:00Z',
  summary: `${id} in bash`,
  details: `${id}: a test vulnerability of bash`,
  severity: [{ type: 'CVSS_V3', score: vector }],
  affected: [{ package: { ecosystem: 'Debian:12', name: 'bash' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }] }],
  references: [{ type: 'ADVISORY', url: `https://advisories.test/${id}` }],
});

test('scanning: findings in AWS shape from a local feed, aggregations, and a feed update reaching an existing image', { skip: buildSkipReason() ?? (await mirrorSkipReason()), timeout: 600_000 }, async (t) => {
  // Above any bash Debian ships (epoch 99), and below any (0.1): one finding, one non-finding.
  let feed: object[] = [bashAdvisory('KILN-TEST-1', '99:1.0-1', CRITICAL), bashAdvisory('KILN-TEST-OLD', '0.1-1', CRITICAL)];
  const feedServer = createServer((_req, res) => res.end(JSON.stringify(feed)));
  await new Promise<void>((resolve) => feedServer.listen(0, '127.0.0.1', resolve));
  t.after(() => feedServer.close());
  const url = `http://127.0.0.1:${(feedServer.address() as AddressInfo).port}/osv.json`;

  const kiln = await startBuildServer(t, { vulnerabilityFeeds: [{ format: 'osv', url }] });
  const ib = kiln.client;
  const componentArn = (await ib.send(new CreateComponentCommand({ name: 'noop', semanticVersion: '1.0.0', platform: 'Linux', data: bashComponent({ build: ['true'], test: ['bash --version >/dev/null'] }) }))).componentBuildVersionArn!;
  const recipe = await ib.send(new CreateContainerRecipeCommand({
    containerType: 'DOCKER',
    name: 'scanned',
    semanticVersion: '1.0.0',
    parentImage: 'arn:aws:imagebuilder:local:aws:image/debian-12-container-x86/x.x.x',
    targetRepository: { service: 'ECR', repositoryName: 'e2e/scanned' },
    components: [{ componentArn }],
    dockerfileTemplateData: 'FROM {{{ imagebuilder:parentImage }}}\n{{{ imagebuilder:components }}}',
  }));
  const infra = await ib.send(new CreateInfrastructureConfigurationCommand({ name: 'scan-infra', instanceProfileName: 'kiln', instanceTypes: ['ns.medium'] }));
  const created = await ib.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, imageScanningConfiguration: { imageScanningEnabled: true } }));
  const image = await waitForImage(ib, created.imageBuildVersionArn!, { timeoutMs: 480_000 });
  assert.equal(image.state?.status, 'AVAILABLE', image.state?.reason);
  assert.equal(image.scanState?.status, 'COMPLETED', image.scanState?.reason);
  const arn = image.arn!;
  const executions = (await ib.send(new ListWorkflowExecutionsCommand({ imageBuildVersionArn: arn }))).workflowExecutions ?? [];
  const testRun = executions.find((e) => e.type === 'TEST')!;
  const steps = (await ib.send(new ListWorkflowStepExecutionsCommand({ workflowExecutionId: testRun.workflowExecutionId }))).steps ?? [];
  assert.deepEqual(steps.map((s) => [s.name, s.status]).slice(0, 2), [['LaunchTestInstance', 'COMPLETED'], ['CollectImageScanFindings', 'COMPLETED']]);

  const findings = (await ib.send(new ListImageScanFindingsCommand({ filters: [{ name: 'imageBuildVersionArn', values: [arn] }] }))).findings ?? [];
  assert.deepEqual(findings.map((f) => f.packageVulnerabilityDetails?.vulnerabilityId), ['KILN-TEST-1'], 'the advisory fixed below the installed bash gives no finding');
  const [finding] = findings;
  assert.equal(finding!.type, 'PACKAGE_VULNERABILITY');
  assert.equal(finding!.severity, 'CRITICAL');
  assert.equal(finding!.inspectorScore, 9.8);
  assert.equal(finding!.inspectorScoreDetails?.adjustedCvss?.scoringVector, CRITICAL);
  assert.equal(finding!.fixAvailable, 'YES');
  assert.equal(finding!.imageBuildVersionArn, arn);
  assert.match(finding!.awsAccountId ?? '', /^\d{12}$/);
  assert.ok(finding!.firstObservedAt instanceof Date && finding!.updatedAt instanceof Date);
  assert.match(finding!.title ?? '', /^KILN-TEST-1 - .*bash/);
  assert.match(finding!.remediation?.recommendation?.text ?? '', /bash 99:1\.0-1/);
  const pkg = finding!.packageVulnerabilityDetails!.vulnerablePackages!.find((p) => p.name === 'bash');
  assert.ok(pkg, 'bash is among the vulnerable packages');
  assert.equal(pkg.packageManager, 'OS');
  assert.equal(pkg.fixedInVersion, '99:1.0-1');
  assert.equal(pkg.arch, 'amd64');
  assert.match(pkg.version ?? '', /^5\./);
  assert.deepEqual(finding!.packageVulnerabilityDetails!.referenceUrls, ['https://advisories.test/KILN-TEST-1']);
  assert.equal(finding!.packageVulnerabilityDetails!.cvss?.[0]?.baseScore, 9.8);
  for (const [name, values, expected] of [['severity', ['HIGH'], 0], ['severity', ['CRITICAL'], 1], ['vulnerabilityId', ['KILN-TEST-1'], 1], ['vulnerabilityId', ['KILN-TEST-OLD'], 0]] as const) {
    const got = await ib.send(new ListImageScanFindingsCommand({ filters: [{ name, values: [...values] }] }));
    assert.equal(got.findings?.length ?? 0, expected, `${name}=${values.join()}`);
  }

  const account = await ib.send(new ListImageScanFindingAggregationsCommand({}));
  assert.equal(account.aggregationType, 'accountId');
  assert.deepEqual(account.responses?.[0]?.accountAggregation?.severityCounts, { all: 1, critical: 1, high: 0, medium: 0 });
  const byVulnerability = await ib.send(new ListImageScanFindingAggregationsCommand({ filter: { name: 'imageBuildVersionArn', values: [arn] } }));
  assert.equal(byVulnerability.aggregationType, 'vulnerabilityId');
  assert.deepEqual(byVulnerability.responses?.map((r) => r.vulnerabilityIdAggregation?.vulnerabilityId), ['KILN-TEST-1']);

  // The feeds are the installation's: another account may not reload them.
  const store = openStore(kiln.dataDir);
  const { key } = await createAccount(store, 'team');
  await store.close();
  const denied = await kilnAs(kiln.server.endpoint, key, ['vulnerabilities', 'update']);
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /AccessDenied|may not reload/);

  // Continuous scanning: a new advisory reaches the existing image through `kiln vulnerabilities update`, with an event.
  const stream = await openStream(t, kiln as unknown as Fixture, { imageBuildVersionArn: arn });
  feed = [...feed, bashAdvisory('KILN-TEST-2', '99:2.0-1', HIGH)];
  const update = await kilnAs(kiln.server.endpoint, kiln.credentials, ['vulnerabilities', 'update']);
  assert.equal(update.code, 0, update.stderr);
  assert.match(update.stdout, /vulnerabilityFeeds\[0\] \(osv http:\S+\)\s+3\s/);
  const event = await stream.waitFor((e) => e.event === 'image-scan-findings');
  assert.match(data(event).reason ?? '', /KILN-TEST-2/);
  assert.equal(data(event).status, 'AVAILABLE');
  const after = (await ib.send(new ListImageScanFindingsCommand({ filters: [{ name: 'imageBuildVersionArn', values: [arn] }] }))).findings ?? [];
  assert.deepEqual(after.map((f) => f.packageVulnerabilityDetails?.vulnerabilityId), ['KILN-TEST-1', 'KILN-TEST-2']);
  assert.equal(after[0]!.firstObservedAt?.getTime(), finding!.firstObservedAt?.getTime(), 'a rescan keeps firstObservedAt');
  assert.deepEqual((await ib.send(new ListImageScanFindingAggregationsCommand({}))).responses?.[0]?.accountAggregation?.severityCounts, { all: 2, critical: 1, high: 1, medium: 0 });

  // The console's image page shows the same: scan state, counts by severity, the findings, filtered by severity.
  if (!browserSkipReason()) {
    const page = await openConsole(await launchBrowser(t), kiln.server.consoleUrl);
    await signIn(page, kiln.credentials);
    await page.getByRole('navigation', { name: 'Resources' }).waitFor();
    await page.goto(`${kiln.server.consoleUrl}#/images/${encodeURIComponent(arn)}`);
    const section = page.locator('section[aria-labelledby="image-findings-heading"]');
    await section.getByTestId('finding-counts').waitFor();
    assert.equal(await section.getByTestId('scan-state').innerText(), 'COMPLETED');
    assert.equal(await section.getByTestId('finding-counts').innerText(), '2 in all: 1 critical, 1 high, 0 medium');
    const rows = section.getByRole('table', { name: 'Findings' }).locator('tbody tr');
    await rows.nth(1).waitFor();
    assert.deepEqual((await rows.allInnerTexts()).map((r) => r.split('\t').slice(0, 2).join(' ')), ['CRITICAL KILN-TEST-1', 'HIGH KILN-TEST-2']);
    await section.getByLabel('Severity').selectOption('HIGH');
    await page.waitForFunction(() => document.querySelectorAll('section[aria-labelledby="image-findings-heading"] tbody tr').length === 1);
    assert.match(await rows.first().innerText(), /HIGH\s+KILN-TEST-2\s+bash 5\.\S+\s+99:2\.0-1/);
    await screenshot(page, 'image-findings');
  }

  // AWS collects findings in the test workflow: with tests disabled the scan is abandoned and says why.
  const untested = await ib.send(new CreateImageCommand({ containerRecipeArn: recipe.containerRecipeArn, infrastructureConfigurationArn: infra.infrastructureConfigurationArn, imageScanningConfiguration: { imageScanningEnabled: true }, imageTestsConfiguration: { imageTestsEnabled: false } }));
  const second = await waitForImage(ib, untested.imageBuildVersionArn!, { timeoutMs: 480_000 });
  assert.equal(second.state?.status, 'AVAILABLE', second.state?.reason);
  const got = (await ib.send(new GetImageCommand({ imageBuildVersionArn: second.arn }))).image!;
  assert.equal(got.scanState?.status, 'ABANDONED');
  assert.match(got.scanState?.reason ?? '', /tests are disabled/);
});
