import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ImageStatus } from '../domain/image-state.js';
import { ageThreshold, amiExclusion, evaluatePolicy, isSelected, type AmiFacts, type CandidateImage, type PolicyRule, type PolicyView } from './evaluate.js';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

/** An AVAILABLE image of recipe `web` 1.0.0, `daysOld` days old, build `build`. */
function image(build: number, daysOld: number, over: Partial<CandidateImage> = {}): CandidateImage {
  return {
    arn: `arn:aws:imagebuilder:local:123456789012:image/web/${over.version ?? '1.0.0'}/${build}`,
    name: 'web',
    slug: 'web',
    version: '1.0.0',
    build,
    type: 'DOCKER',
    status: 'AVAILABLE',
    dateCreated: new Date(NOW.getTime() - daysOld * DAY),
    tags: {},
    amis: [],
    ...over,
  };
}

function policy(rules: PolicyRule[], over: Partial<PolicyView> = {}): PolicyView {
  return { resourceType: 'CONTAINER_IMAGE', policyDetails: rules, resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.0.0' }] }, ...over };
}

const count = (value: number, action: PolicyRule['action']['type'] = 'DELETE', more: Partial<PolicyRule> = {}): PolicyRule => ({ action: { type: action }, filter: { type: 'COUNT', value }, ...more });
const age = (value: number, unit: 'DAYS' | 'WEEKS' | 'MONTHS' | 'YEARS', action: PolicyRule['action']['type'] = 'DELETE', retainAtLeast?: number, more: Partial<PolicyRule> = {}): PolicyRule => ({
  action: { type: action },
  filter: { type: 'AGE', value, unit, ...(retainAtLeast === undefined ? {} : { retainAtLeast }) },
  ...more,
});

/** `build:ACTION` (or `build:SKIPPED-ACTION`) for each plan, newest first. */
function summary(plans: ReturnType<typeof evaluatePolicy>): string[] {
  return plans.map((p) => `${p.image.build}:${p.outcome === 'SKIPPED' ? 'SKIPPED-' : ''}${p.action}`);
}

test('COUNT keeps the newest N of a recipe version and deletes the rest, newest first', () => {
  const images = [image(1, 30), image(2, 20), image(3, 10), image(4, 5)];
  const plans = evaluatePolicy(policy([count(2)]), images, NOW);
  assert.deepEqual(summary(plans), ['2:DELETE', '1:DELETE']);
  assert.match(plans[0]!.reason, /not among the 2 newest images of web 1\.0\.0/);
  assert.deepEqual(summary(evaluatePolicy(policy([count(4)]), images, NOW)), []);
  assert.deepEqual(summary(evaluatePolicy(policy([count(5)]), images, NOW)), []);
});

test('newest is by creation date, not by build number; equal dates fall back to the build number', () => {
  const images = [image(1, 1), image(2, 50), image(3, 40)];
  assert.deepEqual(summary(evaluatePolicy(policy([count(1)]), images, NOW)), ['3:DELETE', '2:DELETE']);
  const same = [image(1, 3), image(2, 3), image(3, 3)];
  assert.deepEqual(summary(evaluatePolicy(policy([count(2)]), same, NOW)), ['1:DELETE']);
});

test('retention is counted per recipe version, also under a wildcard or a tag selection', () => {
  const images = [image(1, 30), image(2, 20), image(1, 30, { version: '1.1.0' }), image(2, 20, { version: '1.1.0' }), image(3, 10, { version: '1.1.0' })];
  const wildcard = policy([count(1)], { resourceSelection: { recipes: [{ name: 'web', semanticVersion: '1.x.x' }] } });
  assert.deepEqual(
    evaluatePolicy(wildcard, images, NOW).map((p) => `${p.image.version}/${p.image.build}`),
    ['1.1.0/2', '1.0.0/1', '1.1.0/1'],
  );
  const exact = evaluatePolicy(policy([count(1)]), images, NOW);
  assert.deepEqual(exact.map((p) => `${p.image.version}/${p.image.build}`), ['1.0.0/1'], 'an exact version selects only that version');
  const tagged = images.map((i) => ({ ...i, tags: { team: 'a' } }));
  const byTag = policy([count(1)], { resourceSelection: { tagMap: { team: 'a' } } });
  assert.equal(evaluatePolicy(byTag, tagged, NOW).length, 3);
});

test('AGE deletes images at least that old; retainAtLeast keeps the newest ones whatever their age', () => {
  const images = [image(1, 100), image(2, 60), image(3, 40), image(4, 10)];
  assert.deepEqual(summary(evaluatePolicy(policy([age(30, 'DAYS')]), images, NOW)), ['3:DELETE', '2:DELETE', '1:DELETE']);
  assert.deepEqual(summary(evaluatePolicy(policy([age(30, 'DAYS', 'DELETE', 2)]), images, NOW)), ['2:DELETE', '1:DELETE']);
  assert.deepEqual(summary(evaluatePolicy(policy([age(30, 'DAYS', 'DELETE', 4)]), images, NOW)), []);
  const old = [image(1, 400), image(2, 300)];
  assert.deepEqual(summary(evaluatePolicy(policy([age(1, 'DAYS', 'DELETE', 1)]), old, NOW)), ['1:DELETE'], 'the newest is kept although it is old');
  const reason = evaluatePolicy(policy([age(30, 'DAYS', 'DELETE', 2)]), images, NOW)[0]!.reason;
  assert.match(reason, /at least 30 DAYS ago, and not among the 2 newest images/);
});

test('AGE thresholds: exactly that old counts; weeks, calendar months and years', () => {
  const exactly = [image(1, 30), image(2, 29.99)];
  assert.deepEqual(summary(evaluatePolicy(policy([age(30, 'DAYS')]), exactly, NOW)), ['1:DELETE']);
  assert.equal(ageThreshold(NOW, 2, 'WEEKS').toISOString(), '2026-06-01T12:00:00.000Z');
  assert.equal(ageThreshold(NOW, 6, 'MONTHS').toISOString(), '2025-12-15T12:00:00.000Z');
  assert.equal(ageThreshold(NOW, 1, 'YEARS').toISOString(), '2025-06-15T12:00:00.000Z');
  assert.equal(ageThreshold(new Date('2026-03-31T00:00:00Z'), 1, 'MONTHS').toISOString(), '2026-03-03T00:00:00.000Z');
});

test('failed and cancelled images take no retention slot and always qualify for deletion', () => {
  const images = [image(1, 30), image(2, 20, { status: 'FAILED' }), image(3, 10, { status: 'CANCELLED' }), image(4, 5)];
  const plans = evaluatePolicy(policy([count(2)]), images, NOW);
  assert.deepEqual(summary(plans), ['3:DELETE', '2:DELETE'], 'builds 4 and 1 fill the two slots');
  assert.match(plans[0]!.reason, /CANCELLED; failed and cancelled images take no retention slot/);
  assert.deepEqual(summary(evaluatePolicy(policy([age(300, 'DAYS')]), [image(1, 1, { status: 'FAILED' })], NOW)), ['1:DELETE']);
});

test('builds under way and deleted images are never evaluated nor counted', () => {
  const statuses: ImageStatus[] = ['PENDING', 'CREATING', 'BUILDING', 'TESTING', 'DISTRIBUTING', 'INTEGRATING', 'DELETED'];
  const images = [image(1, 30), ...statuses.map((status, i) => image(10 + i, 1, { status }))];
  assert.deepEqual(summary(evaluatePolicy(policy([count(1)]), images, NOW)), [], 'build 1 is the only image that counts, and it is kept');
});

test('rule priority: deprecate, then disable, then delete; one action per image per execution', () => {
  const images = [image(1, 200), image(2, 100), image(3, 50), image(4, 1)];
  const rules = [age(150, 'DAYS', 'DELETE'), age(90, 'DAYS', 'DISABLE'), age(30, 'DAYS', 'DEPRECATE')];
  const ami = { resourceType: 'AMI_IMAGE' as const };
  const amiImages = images.map((i) => ({ ...i, type: 'AMI' as const }));
  assert.deepEqual(summary(evaluatePolicy(policy(rules, ami), amiImages, NOW)), ['3:DEPRECATE', '2:DEPRECATE', '1:DEPRECATE'], 'everything available gets deprecated first');
  const later = amiImages.map((i) => (i.build <= 3 ? { ...i, status: 'DEPRECATED' as const } : i));
  assert.deepEqual(summary(evaluatePolicy(policy(rules, ami), later, NOW)), ['2:DISABLE', '1:DISABLE'], 'the next run disables what is old enough');
  const third = later.map((i) => (i.build <= 2 ? { ...i, status: 'DISABLED' as const } : i));
  assert.deepEqual(summary(evaluatePolicy(policy(rules, ami), third, NOW)), ['1:DELETE']);
  assert.equal(evaluatePolicy(policy(rules, ami), amiImages, NOW)[0]!.rule, 2, 'the plan names the rule by its index in policyDetails');
});

test('deprecate and disable skip images already in that state or beyond, and failed ones', () => {
  const images = [image(1, 100, { status: 'DEPRECATED' }), image(2, 100, { status: 'DISABLED' }), image(3, 100, { status: 'FAILED' }), image(4, 100, { status: 'CANCELLED' }), image(5, 100)].map((i) => ({ ...i, type: 'AMI' as const }));
  const ami = { resourceType: 'AMI_IMAGE' as const };
  assert.deepEqual(summary(evaluatePolicy(policy([age(1, 'DAYS', 'DEPRECATE')], ami), images, NOW)), ['5:DEPRECATE']);
  assert.deepEqual(summary(evaluatePolicy(policy([age(1, 'DAYS', 'DISABLE')], ami), images, NOW)).sort(), ['1:DISABLE', '5:DISABLE']);
  assert.deepEqual(summary(evaluatePolicy(policy([age(1, 'DAYS', 'DELETE')], ami), images, NOW)).sort(), ['1:DELETE', '2:DELETE', '3:DELETE', '4:DELETE', '5:DELETE']);
});

test('a COUNT deprecate rule counts images already deprecated toward its slots', () => {
  const images = [image(1, 40, { status: 'DEPRECATED' }), image(2, 30), image(3, 20), image(4, 10)].map((i) => ({ ...i, type: 'AMI' as const }));
  const plans = evaluatePolicy(policy([count(2, 'DEPRECATE')], { resourceType: 'AMI_IMAGE' }), images, NOW);
  assert.deepEqual(summary(plans), ['2:DEPRECATE']);
});

test('exclusion tags: checked after retention, reported as SKIPPED, and the rest of the rules still apply', () => {
  const images = [image(1, 30, { tags: { keep: 'yes' } }), image(2, 20), image(3, 10, { tags: { keep: 'yes' } })];
  const rule = count(1, 'DELETE', { exclusionRules: { tagMap: { keep: 'yes' } } });
  const plans = evaluatePolicy(policy([rule]), images, NOW);
  assert.deepEqual(summary(plans), ['2:DELETE', '1:SKIPPED-DELETE'], 'build 3 is kept by retention, not by its tag');
  assert.match(plans[1]!.reason, /keep=yes of exclusionRules\.tagMap/);
  assert.deepEqual(summary(evaluatePolicy(policy([count(1, 'DELETE', { exclusionRules: { tagMap: { keep: 'no' } } })]), images, NOW)), ['2:DELETE', '1:DELETE'], 'the value must match too');

  const amiImages = images.map((i) => ({ ...i, type: 'AMI' as const }));
  const rules = [age(1, 'DAYS', 'DEPRECATE', undefined, { exclusionRules: { tagMap: { keep: 'yes' } } }), age(1, 'DAYS', 'DELETE')];
  assert.deepEqual(summary(evaluatePolicy(policy(rules, { resourceType: 'AMI_IMAGE' }), amiImages, NOW)), ['3:DELETE', '2:DEPRECATE', '1:DELETE'], 'a tag excluded from deprecation may still be deleted');
});

test('resource selection: recipe name or slug, version wildcards, tag pairs (any one), and the resource type', () => {
  const spaced = image(1, 1, { name: 'My Web', slug: 'my-web' });
  assert.ok(isSelected(policy([], { resourceSelection: { recipes: [{ name: 'My Web', semanticVersion: '1.0.0' }] } }), spaced));
  assert.ok(isSelected(policy([], { resourceSelection: { recipes: [{ name: 'my-web', semanticVersion: 'x.x.x' }] } }), spaced));
  assert.ok(!isSelected(policy([], { resourceSelection: { recipes: [{ name: 'My Web', semanticVersion: '2.x.x' }] } }), spaced));
  assert.ok(!isSelected(policy([], { resourceSelection: { recipes: [{ name: 'other', semanticVersion: '1.0.0' }] } }), spaced));
  const tagged = image(1, 1, { tags: { env: 'prod', team: 'a' } });
  assert.ok(isSelected(policy([], { resourceSelection: { tagMap: { env: 'dev', team: 'a' } } }), tagged));
  assert.ok(!isSelected(policy([], { resourceSelection: { tagMap: { env: 'dev' } } }), tagged));
  assert.ok(!isSelected(policy([], { resourceType: 'AMI_IMAGE' }), image(1, 1)), 'a container image is not an AMI_IMAGE policy’s');
});

test('AMI exclusion rules, in the user guide’s order; lastLaunched is not evaluated', () => {
  const ami: AmiFacts = { amiId: 'ami-0123456789abcdef0', accountId: '111111111111', region: 'local', isPublic: true, sharedAccounts: ['222222222222'], tags: { stage: 'gold' } };
  assert.equal(amiExclusion(undefined, ami), undefined);
  assert.match(amiExclusion({ regions: ['local'], isPublic: true }, ami)!, /region exclusionRules\.amis\.regions/);
  assert.match(amiExclusion({ regions: ['other'], isPublic: true, tagMap: { stage: 'gold' } }, ami)!, /public/);
  assert.match(amiExclusion({ isPublic: false, tagMap: { stage: 'gold' } }, ami)!, /tag stage=gold/);
  assert.match(amiExclusion({ sharedAccounts: ['333333333333', '222222222222'] }, ami)!, /shared with account 222222222222/);
  assert.equal(amiExclusion({ sharedAccounts: ['333333333333'], lastLaunched: { value: 1, unit: 'DAYS' } }, ami), undefined);
  assert.equal(amiExclusion({ isPublic: true }, { ...ami, isPublic: false }), undefined);
});

test('an AMI image whose rule includes AMIs plans each output machine image with its exclusion', () => {
  const facts = (id: string, region: string): AmiFacts => ({ amiId: id, accountId: '111111111111', region, isPublic: false, sharedAccounts: [], tags: {} });
  const img = image(1, 100, { type: 'AMI', amis: [facts('ami-00000000000000001', 'local'), facts('ami-00000000000000002', 'far')] });
  const rule: PolicyRule = { action: { type: 'DELETE', includeResources: { amis: true } }, filter: { type: 'AGE', value: 1, unit: 'DAYS' }, exclusionRules: { amis: { regions: ['far'] } } };
  const [plan] = evaluatePolicy(policy([rule], { resourceType: 'AMI_IMAGE' }), [img], NOW);
  assert.deepEqual(
    plan!.amis.map((a) => [a.ami.amiId, a.skipped !== undefined]),
    [
      ['ami-00000000000000001', false],
      ['ami-00000000000000002', true],
    ],
  );
  const without = evaluatePolicy(policy([{ ...rule, action: { type: 'DELETE' } }], { resourceType: 'AMI_IMAGE' }), [img], NOW);
  assert.deepEqual(without[0]!.amis, [], 'without includeResources.amis the machine images are not touched');
});
