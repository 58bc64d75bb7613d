import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { execLocal } from '../../src/toe/instance/local.js';
import { scratchDir } from '../helpers/action-context.js';
import { startFixture } from './fixture.js';

const hasAws = ['/usr/bin/aws', '/usr/local/bin/aws'].some((p) => existsSync(p));
const skip = hasAws ? false : 'needs the aws CLI (Debian package awscli)';

type Json = Record<string, unknown>;

test('the aws CLI drives configurations, tags and lifecycle policies', { skip }, async (t) => {
  const f = await startFixture(t);
  const dir = await scratchDir(t);
  const env = {
    AWS_SHARED_CREDENTIALS_FILE: f.server.credentialsPath,
    AWS_CONFIG_FILE: join(dir, 'no-config'),
    AWS_DEFAULT_REGION: 'local',
    AWS_PAGER: '',
  };
  const aws = async (...args: string[]) => {
    const r = await execLocal(['aws', '--endpoint-url', f.server.endpoint, '--output', 'json', 'imagebuilder', ...args], { env, timeoutMs: 60_000, cwd: dir });
    return { ...r, json: r.exitCode === 0 && r.stdout.trim() ? (JSON.parse(r.stdout) as Json) : undefined };
  };
  const ok = async (...args: string[]): Promise<Json> => {
    const r = await aws(...args);
    assert.equal(r.exitCode, 0, `${args[0]}: ${r.stderr}`);
    return r.json ?? {};
  };

  // Infrastructure configuration.
  const infra = await ok('create-infrastructure-configuration', '--name', 'CLI Infra', '--instance-profile-name', 'BuildProfile', '--instance-types', 'ns.medium', '--tags', 'team=cli');
  const infraArn = infra.infrastructureConfigurationArn as string;
  assert.match(infraArn, /^arn:aws:imagebuilder:local:\d{12}:infrastructure-configuration\/cli-infra$/);
  const gotInfra = (await ok('get-infrastructure-configuration', '--infrastructure-configuration-arn', infraArn)).infrastructureConfiguration as Json;
  assert.equal(gotInfra.name, 'CLI Infra');
  assert.deepEqual(gotInfra.instanceTypes, ['ns.medium']);
  assert.deepEqual(gotInfra.tags, { team: 'cli' });
  const infraList = (await ok('list-infrastructure-configurations')).infrastructureConfigurationSummaryList as Json[];
  assert.deepEqual(infraList.map((c) => c.name), ['CLI Infra']);

  // Distribution configuration.
  const distributions = JSON.stringify([{ region: 'local', amiDistributionConfiguration: { name: 'cli-{{ imagebuilder:buildDate }}' } }]);
  const dist = await ok('create-distribution-configuration', '--name', 'CLI Dist', '--distributions', distributions);
  const distArn = dist.distributionConfigurationArn as string;
  const gotDist = (await ok('get-distribution-configuration', '--distribution-configuration-arn', distArn)).distributionConfiguration as Json;
  assert.equal((gotDist.distributions as Json[])[0]!.region, 'local');
  const distList = (await ok('list-distribution-configurations')).distributionConfigurationSummaryList as Json[];
  assert.deepEqual(distList.map((c) => [c.name, c.regions]), [['CLI Dist', ['local']]]);
  const badDist = await aws('create-distribution-configuration', '--name', 'Bad Dist', '--distributions', JSON.stringify([{ region: 'local', amiDistributionConfiguration: { name: 'no-date' } }]));
  assert.notEqual(badDist.exitCode, 0);
  assert.match(badDist.stderr, /InvalidParameterValueException/);
  assert.match(badDist.stderr, /amiDistributionConfiguration\.name/);

  // Tags through the /tags/{resourceArn} path, which the CLI percent-encodes.
  await ok('tag-resource', '--resource-arn', distArn, '--tags', 'env=dev,owner=ops');
  assert.deepEqual((await ok('list-tags-for-resource', '--resource-arn', distArn)).tags, { env: 'dev', owner: 'ops' });
  await ok('untag-resource', '--resource-arn', distArn, '--tag-keys', 'owner');
  assert.deepEqual((await ok('list-tags-for-resource', '--resource-arn', distArn)).tags, { env: 'dev' });
  const reserved = await aws('tag-resource', '--resource-arn', distArn, '--tags', 'aws:x=y');
  assert.notEqual(reserved.exitCode, 0);
  assert.match(reserved.stderr, /InvalidParameterException/);
  const foreign = await aws('list-tags-for-resource', '--resource-arn', distArn.replace(/:\d{12}:/, ':123456789012:'));
  assert.notEqual(foreign.exitCode, 0);
  assert.match(foreign.stderr, /ResourceNotFoundException/);

  // Lifecycle policy.
  const created = await ok(
    'create-lifecycle-policy',
    '--name', 'CLI Lifecycle',
    '--execution-role', 'LifecycleRole',
    '--resource-type', 'AMI_IMAGE',
    '--policy-details', JSON.stringify([{ action: { type: 'DELETE' }, filter: { type: 'AGE', value: 3, unit: 'MONTHS', retainAtLeast: 1 } }]),
    '--resource-selection', JSON.stringify({ recipes: [{ name: 'web', semanticVersion: '1.x.x' }] }),
  );
  const policyArn = created.lifecyclePolicyArn as string;
  assert.match(policyArn, /:lifecycle-policy\/cli-lifecycle$/);
  const policy = (await ok('get-lifecycle-policy', '--lifecycle-policy-arn', policyArn)).lifecyclePolicy as Json;
  assert.equal(policy.status, 'ENABLED');
  assert.deepEqual((policy.policyDetails as Json[])[0]!.filter, { type: 'AGE', value: 3, unit: 'MONTHS', retainAtLeast: 1 });
  assert.ok(policy.dateCreated, 'the CLI parses the timestamp');
  await ok('tag-resource', '--resource-arn', policyArn, '--tags', 'team=cli');
  const policies = (await ok('list-lifecycle-policies')).lifecyclePolicySummaryList as Json[];
  assert.deepEqual(policies.map((p) => [p.name, p.tags]), [['CLI Lifecycle', { team: 'cli' }]]);
  const badPolicy = await aws(
    'create-lifecycle-policy',
    '--name', 'Bad Lifecycle',
    '--execution-role', 'LifecycleRole',
    '--resource-type', 'AMI_IMAGE',
    '--policy-details', JSON.stringify([{ action: { type: 'DELETE' }, filter: { type: 'COUNT', value: 3, unit: 'DAYS' } }]),
    '--resource-selection', JSON.stringify({ tagMap: { env: 'dev' } }),
  );
  assert.notEqual(badPolicy.exitCode, 0);
  assert.match(badPolicy.stderr, /policyDetails\[0\]\.filter\.unit/);

  // Deletes, then nothing is left.
  await ok('delete-lifecycle-policy', '--lifecycle-policy-arn', policyArn);
  await ok('delete-distribution-configuration', '--distribution-configuration-arn', distArn);
  await ok('delete-infrastructure-configuration', '--infrastructure-configuration-arn', infraArn);
  const gone = await aws('get-lifecycle-policy', '--lifecycle-policy-arn', policyArn);
  assert.notEqual(gone.exitCode, 0);
  assert.match(gone.stderr, /ResourceNotFoundException/);
  assert.deepEqual((await ok('list-lifecycle-policies')).lifecyclePolicySummaryList, []);
  assert.deepEqual((await ok('list-distribution-configurations')).distributionConfigurationSummaryList, []);
  assert.deepEqual((await ok('list-infrastructure-configurations')).infrastructureConfigurationSummaryList, []);
});
