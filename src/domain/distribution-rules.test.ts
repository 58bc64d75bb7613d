import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Issue } from './errors.js';
import { amiNameProblems, checkDistributions, checkLaunchPermission, checkTagMap, distributionRegions } from './distribution-rules.js';

const paths = (issues: Issue[]) => issues.map((i) => i.path);

test('AMI names: the build date template is required, other characters follow EC2', () => {
  const cases: [string, RegExp[]][] = [
    ['my-ami-{{ imagebuilder:buildDate }}', []],
    ['my-ami-{{imagebuilder:buildDate}}', []],
    ['app (x86_64) v{{ imagebuilder:buildVersion }} / {{ imagebuilder:buildDate }}', []],
    ['{{ imagebuilder:buildDate:yyyyMMddHHmm }}', []],
    ['AmazonLinux2-EKS-1.27', [/must contain '\{\{ imagebuilder:buildDate \}\}'/]],
    ['ab', [/3-127/, /must contain/]],
    [`${'a'.repeat(110)}-{{ imagebuilder:buildDate }}`, [/3-127/]],
    ['bad:name-{{ imagebuilder:buildDate }}', [/only letters/]],
    ['bad*name-{{ imagebuilder:buildDate }}', [/only letters/]],
    ['x-{{ imagebuilder:osVersion }}-{{ imagebuilder:buildDate }}', [/only the templates/]],
    ['x-{{ imagebuilder:buildDate }', [/must contain/, /only the templates/]],
  ];
  for (const [name, expected] of cases) {
    const problems = amiNameProblems(name);
    assert.equal(problems.length, expected.length, `${name}: ${problems.join('; ')}`);
    expected.forEach((re, i) => assert.match(problems[i]!, re, name));
  }
});

test('launch permission: account ids, the all group, organization and OU ARNs', () => {
  const cases: [unknown, string[]][] = [
    [{ userIds: ['123456789012'], userGroups: ['all'] }, []],
    [{ organizationArns: ['arn:aws:organizations::123456789012:organization/o-abcdefghij'] }, []],
    [{ organizationalUnitArns: ['arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-abcdefgh'] }, []],
    [{ userIds: ['12345'] }, ['lp.userIds[0]']],
    [{ userIds: [] }, ['lp.userIds']],
    [{ userGroups: ['all', 'admins'] }, ['lp.userGroups[1]']],
    [{ organizationArns: ['arn:aws:organizations::123456789012:organization/x'] }, ['lp.organizationArns[0]']],
    [{ organizationalUnitArns: ['arn:aws:organizations::123456789012:ou/o-abcdefghij'] }, ['lp.organizationalUnitArns[0]']],
    [{}, []],
  ];
  for (const [value, expected] of cases) {
    const issues: Issue[] = [];
    checkLaunchPermission(value, 'lp', issues);
    assert.deepEqual(paths(issues), expected, JSON.stringify(value));
  }
});

test('tags: count, key pattern, aws: prefix, value length', () => {
  const cases: [unknown, number, string[]][] = [
    [{ Name: 'x', 'GitHubRunners:Stack': 'y', 'a b/c=d+e-f@g_h.i': '' }, 50, []],
    [{ 'aws:reserved': 'x' }, 50, ['t.aws:reserved']],
    [{ 'bad*key': 'x' }, 50, ['t.bad*key']],
    [{ k: 'v'.repeat(257) }, 50, ['t.k']],
    [{ a: '1', b: '2' }, 1, ['t']],
    [{}, 50, ['t']],
  ];
  for (const [value, max, expected] of cases) {
    const issues: Issue[] = [];
    checkTagMap(value, 't', issues, max);
    assert.deepEqual(paths(issues), expected, JSON.stringify(value));
  }
});

test('distributions: regions, one output each, nested rules, all issues at once', () => {
  const ami = { amiDistributionConfiguration: { name: 'n-{{ imagebuilder:buildDate }}' } };
  const regions = new Set(['local', 'eu']);
  const cases: [unknown, Set<string> | undefined, string[]][] = [
    [[{ region: 'local', ...ami }], regions, []],
    [[{ region: 'local', ...ami }, { region: 'eu', containerDistributionConfiguration: { targetRepository: { service: 'ECR', repositoryName: 'r' } } }], regions, []],
    [[{ region: 'us-east-1', ...ami }], undefined, []],
    [[{ region: 'us-east-1', ...ami }], regions, ['distributions[0].region']],
    [[{ region: 'local', ...ami }, { region: 'local', ...ami }], regions, ['distributions[1].region']],
    [[{ region: 'Not A Region', ...ami }], undefined, ['distributions[0].region']],
    [[{ region: 'local' }], regions, ['distributions[0]']],
    [[], regions, ['distributions']],
    [undefined, regions, ['distributions']],
    [[{ region: 'local', amiDistributionConfiguration: { name: 'plain', targetAccountIds: ['1'], launchPermission: { userGroups: ['x'] } } }], regions, [
      'distributions[0].amiDistributionConfiguration.name',
      'distributions[0].amiDistributionConfiguration.targetAccountIds[0]',
      'distributions[0].amiDistributionConfiguration.launchPermission.userGroups[0]',
    ]],
    [[{ region: 'local', containerDistributionConfiguration: { targetRepository: { service: 'DockerHub', repositoryName: '' }, containerTags: ['latest', ''] } }], regions, [
      'distributions[0].containerDistributionConfiguration.targetRepository.service',
      'distributions[0].containerDistributionConfiguration.targetRepository.repositoryName',
      'distributions[0].containerDistributionConfiguration.containerTags[1]',
    ]],
    [[{ region: 'local', s3ExportConfiguration: { roleName: 'r', diskImageFormat: 'QCOW2', s3Bucket: 'b' } }], regions, ['distributions[0].s3ExportConfiguration.diskImageFormat']],
    [[{ region: 'local', s3ExportConfiguration: { roleName: 'r', diskImageFormat: 'RAW', s3Bucket: 'b', s3Prefix: 'p/' } }], regions, []],
    [[{ region: 'local', launchTemplateConfigurations: [{ launchTemplateId: 'lt-0123456789abcdef0', accountId: '123456789012', setDefaultVersion: true }, { launchTemplateId: 'lt-1' }] }], regions, [
      'distributions[0].launchTemplateConfigurations[1].launchTemplateId',
    ]],
    [[{ region: 'local', fastLaunchConfigurations: [{ enabled: true, maxParallelLaunches: 6, snapshotConfiguration: { targetResourceCount: 5 }, launchTemplate: { launchTemplateName: 'lt' } }] }], regions, []],
    [[{ region: 'local', fastLaunchConfigurations: [{ enabled: true, accountId: 'me', launchTemplate: { launchTemplateId: 'lt-0123456789abcdef0', launchTemplateName: 'x' } }] }], regions, [
      'distributions[0].fastLaunchConfigurations[0].accountId',
      'distributions[0].fastLaunchConfigurations[0].launchTemplate',
    ]],
    [[{ region: 'local', ssmParameterConfigurations: [{ parameterName: '/kiln/ami', dataType: 'aws:ec2:image' }, { parameterName: 'bad name', dataType: 'json' }] }], regions, [
      'distributions[0].ssmParameterConfigurations[1].parameterName',
      'distributions[0].ssmParameterConfigurations[1].dataType',
    ]],
  ];
  cases.forEach(([value, known, expected], i) => {
    assert.deepEqual(paths(checkDistributions(value, known === undefined ? {} : { regions: known })), expected, `case ${i}`);
  });
  assert.deepEqual(distributionRegions([{ region: 'local' }, { region: 'eu' }]), ['local', 'eu']);
});
