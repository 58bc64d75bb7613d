import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Issue } from './errors.js';
import { checkLifecyclePolicy, checkPolicyDetails, checkPolicyName, checkResourceSelection, checkResourceStateUpdate } from './lifecycle-rules.js';

const paths = (issues: Issue[]) => issues.map((i) => i.path);

const del = (filter: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ action: { type: 'DELETE' }, filter, ...extra });

test('policy details: filters, actions per resource type, counts', () => {
  const cases: [string, unknown, string, string[]][] = [
    ['AGE with unit', [del({ type: 'AGE', value: 6, unit: 'MONTHS', retainAtLeast: 2 })], 'AMI_IMAGE', []],
    ['COUNT without unit', [del({ type: 'COUNT', value: 5 })], 'CONTAINER_IMAGE', []],
    ['AGE needs a unit', [del({ type: 'AGE', value: 6 })], 'AMI_IMAGE', ['policyDetails[0].filter.unit']],
    ['AGE unit must be known', [del({ type: 'AGE', value: 6, unit: 'HOURS' })], 'AMI_IMAGE', ['policyDetails[0].filter.unit']],
    ['COUNT takes no unit', [del({ type: 'COUNT', value: 6, unit: 'DAYS' })], 'AMI_IMAGE', ['policyDetails[0].filter.unit']],
    ['retainAtLeast only for AGE', [del({ type: 'COUNT', value: 6, retainAtLeast: 1 })], 'AMI_IMAGE', ['policyDetails[0].filter.retainAtLeast']],
    ['retainAtLeast 1-10', [del({ type: 'AGE', value: 6, unit: 'DAYS', retainAtLeast: 11 })], 'AMI_IMAGE', ['policyDetails[0].filter.retainAtLeast']],
    ['value 1-1000', [del({ type: 'COUNT', value: 0 }), { action: { type: 'DISABLE' }, filter: { type: 'COUNT', value: 1001 } }], 'AMI_IMAGE', ['policyDetails[0].filter.value', 'policyDetails[1].filter.value']],
    ['value must be an integer', [del({ type: 'COUNT', value: 2.5 })], 'AMI_IMAGE', ['policyDetails[0].filter.value']],
    ['filter type', [del({ type: 'SIZE', value: 2 })], 'AMI_IMAGE', ['policyDetails[0].filter.type']],
    ['filter required', [{ action: { type: 'DELETE' } }], 'AMI_IMAGE', ['policyDetails[0].filter']],
    ['action type', [{ action: { type: 'ARCHIVE' }, filter: { type: 'COUNT', value: 1 } }], 'AMI_IMAGE', ['policyDetails[0].action.type']],
    ['DEPRECATE not for containers', [{ action: { type: 'DEPRECATE' }, filter: { type: 'COUNT', value: 1 } }], 'CONTAINER_IMAGE', ['policyDetails[0].action.type']],
    ['DISABLE not for containers', [{ action: { type: 'DISABLE' }, filter: { type: 'COUNT', value: 1 } }], 'CONTAINER_IMAGE', ['policyDetails[0].action.type']],
    [
      'three rules, one per action',
      [
        { action: { type: 'DEPRECATE', includeResources: { amis: true } }, filter: { type: 'AGE', value: 1, unit: 'WEEKS' } },
        { action: { type: 'DISABLE' }, filter: { type: 'AGE', value: 2, unit: 'WEEKS' } },
        del({ type: 'AGE', value: 3, unit: 'WEEKS' }),
      ],
      'AMI_IMAGE',
      [],
    ],
    ['no rules', [], 'AMI_IMAGE', ['policyDetails']],
    ['four rules', Array.from({ length: 4 }, () => del({ type: 'COUNT', value: 1 })), 'AMI_IMAGE', ['policyDetails', 'policyDetails[1].action.type', 'policyDetails[2].action.type', 'policyDetails[3].action.type']],
    ['repeated action', [del({ type: 'COUNT', value: 1 }), del({ type: 'AGE', value: 1, unit: 'DAYS' })], 'AMI_IMAGE', ['policyDetails[1].action.type']],
    ['DELETE includes everything for AMIs', [{ action: { type: 'DELETE', includeResources: { amis: true, snapshots: true } }, filter: { type: 'COUNT', value: 1 } }], 'AMI_IMAGE', []],
    ['DELETE includes containers for containers', [{ action: { type: 'DELETE', includeResources: { containers: true } }, filter: { type: 'COUNT', value: 1 } }], 'CONTAINER_IMAGE', []],
    ['snapshots only with amis', [{ action: { type: 'DELETE', includeResources: { snapshots: true } }, filter: { type: 'COUNT', value: 1 } }], 'AMI_IMAGE', ['policyDetails[0].action.includeResources.snapshots']],
    ['DEPRECATE includes AMIs only', [{ action: { type: 'DEPRECATE', includeResources: { amis: true, snapshots: true } }, filter: { type: 'COUNT', value: 1 } }], 'AMI_IMAGE', ['policyDetails[0].action.includeResources.snapshots']],
    ['containers not in an AMI policy', [{ action: { type: 'DELETE', includeResources: { containers: true } }, filter: { type: 'COUNT', value: 1 } }], 'AMI_IMAGE', ['policyDetails[0].action.includeResources.containers']],
    ['amis not in a container policy', [{ action: { type: 'DELETE', includeResources: { amis: true } }, filter: { type: 'COUNT', value: 1 } }], 'CONTAINER_IMAGE', ['policyDetails[0].action.includeResources.amis']],
    [
      'exclusion rules',
      [del({ type: 'COUNT', value: 1 }, { exclusionRules: { tagMap: { keep: 'yes' }, amis: { isPublic: true, regions: ['local'], sharedAccounts: ['123456789012'], lastLaunched: { value: 30, unit: 'DAYS' }, tagMap: { pinned: 'true' } } } })],
      'AMI_IMAGE',
      [],
    ],
    [
      'bad exclusion rules',
      [del({ type: 'COUNT', value: 1 }, { exclusionRules: { tagMap: { 'aws:x': 'y' }, amis: { regions: [], sharedAccounts: ['12'], lastLaunched: { value: 400, unit: 'EONS' } } } })],
      'AMI_IMAGE',
      [
        'policyDetails[0].exclusionRules.tagMap.aws:x',
        'policyDetails[0].exclusionRules.amis.regions',
        'policyDetails[0].exclusionRules.amis.sharedAccounts[0]',
        'policyDetails[0].exclusionRules.amis.lastLaunched.value',
        'policyDetails[0].exclusionRules.amis.lastLaunched.unit',
      ],
    ],
    ['AMI exclusions not for containers', [del({ type: 'COUNT', value: 1 }, { exclusionRules: { amis: { isPublic: true } } })], 'CONTAINER_IMAGE', ['policyDetails[0].exclusionRules.amis']],
  ];
  for (const [label, details, resourceType, expected] of cases) {
    assert.deepEqual(paths(checkPolicyDetails(details, resourceType)), expected, label);
  }
});

test('resource selection: recipes with wildcard versions xor a tag map', () => {
  const cases: [string, unknown, string[]][] = [
    ['recipes', { recipes: [{ name: 'my recipe', semanticVersion: '1.0.0' }, { name: 'other', semanticVersion: 'x.x.x' }, { name: 'third', semanticVersion: '1.0.x' }] }, []],
    ['tag map', { tagMap: { env: 'dev' } }, []],
    ['neither', {}, ['resourceSelection']],
    ['both', { recipes: [{ name: 'abc', semanticVersion: '1.x.x' }], tagMap: { env: 'dev' } }, ['resourceSelection']],
    ['empty recipes', { recipes: [] }, ['resourceSelection.recipes']],
    ['empty tag map', { tagMap: {} }, ['resourceSelection.tagMap']],
    ['bad wildcard', { recipes: [{ name: 'abc', semanticVersion: 'x.2.x' }] }, ['resourceSelection.recipes[0].semanticVersion']],
    ['bad name', { recipes: [{ name: 'a', semanticVersion: '1.0.0' }] }, ['resourceSelection.recipes[0].name']],
    ['too many recipes', { recipes: Array.from({ length: 51 }, (_, i) => ({ name: `recipe-${i}`, semanticVersion: '1.0.0' })) }, ['resourceSelection.recipes']],
    ['reserved tag', { tagMap: { 'aws:owner': 'me' } }, ['resourceSelection.tagMap.aws:owner']],
    ['missing', undefined, ['resourceSelection']],
  ];
  for (const [label, selection, expected] of cases) assert.deepEqual(paths(checkResourceSelection(selection)), expected, label);
});

test('whole policy: role, resource type, status, description; names', () => {
  const good = { executionRole: 'arn:aws:iam::123456789012:role/Lifecycle', resourceType: 'AMI_IMAGE', policyDetails: [del({ type: 'COUNT', value: 3 })], resourceSelection: { tagMap: { a: 'b' } } };
  const cases: [string, Record<string, unknown>, string[]][] = [
    ['good', good, []],
    ['role name', { ...good, executionRole: 'EC2ImageBuilderLifecycleExecutionPolicy', status: 'DISABLED', description: 'keeps three' }, []],
    ['bad role', { ...good, executionRole: 'arn:aws:iam::1:user/x y' }, ['executionRole']],
    ['no role', { ...good, executionRole: undefined }, ['executionRole']],
    ['resource type', { ...good, resourceType: 'VM_IMAGE' }, ['resourceType']],
    ['status', { ...good, status: 'PAUSED' }, ['status']],
    ['description', { ...good, description: '' }, ['description']],
    ['everything', { status: 'x', policyDetails: [], resourceSelection: {} }, ['executionRole', 'resourceType', 'status', 'policyDetails', 'resourceSelection']],
  ];
  for (const [label, input, expected] of cases) assert.deepEqual(paths(checkLifecyclePolicy(input)), expected, label);
  assert.deepEqual(checkPolicyName('Keep Five'), []);
  assert.deepEqual(paths(checkPolicyName('x')), ['name']);
  assert.deepEqual(paths(checkPolicyName(' padded ')), ['name']);
});

test('checkResourceStateUpdate: target state, included resources per image type, exclusions, role', () => {
  const pathsOf = (input: Record<string, unknown>, type: string) => paths(checkResourceStateUpdate(input, type));
  assert.deepEqual(pathsOf({ state: { status: 'DEPRECATED' } }, 'AMI'), []);
  assert.deepEqual(pathsOf({ state: { status: 'DEPRECATED' }, includeResources: { amis: true }, exclusionRules: { amis: { isPublic: true } } }, 'AMI'), []);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { containers: true } }, 'DOCKER'), []);
  assert.deepEqual(pathsOf({ state: {} }, 'AMI'), ['state.status']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' } }, 'AMI'), ['includeResources']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { amis: false } }, 'AMI'), ['includeResources']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { containers: true } }, 'AMI'), ['includeResources.containers']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { amis: true } }, 'DOCKER'), ['includeResources.amis']);
  assert.deepEqual(pathsOf({ state: { status: 'DISABLED' }, includeResources: { amis: true, snapshots: true } }, 'AMI'), ['includeResources.snapshots']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { snapshots: true } }, 'AMI'), ['includeResources.snapshots']);
  assert.deepEqual(pathsOf({ state: { status: 'DELETED' }, includeResources: { containers: true }, exclusionRules: { amis: { isPublic: true } } }, 'DOCKER'), ['exclusionRules.amis']);
  assert.deepEqual(pathsOf({ state: { status: 'AVAILABLE' }, exclusionRules: { amis: { sharedAccounts: ['12'] } } }, 'AMI'), ['exclusionRules.amis.sharedAccounts[0]']);
  assert.deepEqual(pathsOf({ state: { status: 'AVAILABLE' }, executionRole: 'no spaces allowed' }, 'AMI'), ['executionRole']);
});
