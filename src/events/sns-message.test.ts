import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceRecord } from '../store/store.js';
import { imageSnsMessage, imageSubject, javaDate, snsNotification, type ImageSnsMessage } from './sns-message.js';

const ACCOUNT = '123456789012';
const ARN = `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:image/example-linux-image/1.0.0/3`;

function record(overrides: Record<string, unknown> = {}): ResourceRecord {
  return {
    arn: ARN,
    accountId: ACCOUNT,
    region: 'us-west-1',
    type: 'image',
    name: 'example-linux-image',
    version: '1.0.0',
    build: 3,
    createdAt: '2022-07-28T01:13:45.000Z',
    data: {
      name: 'Example Linux Image',
      type: 'AMI',
      platform: 'Linux',
      osVersion: 'Debian 12',
      state: { status: 'AVAILABLE' },
      imageRecipe: {
        arn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:image-recipe/example-linux-image/1.0.0`,
        name: 'example-linux-image',
        version: '1.0.0',
        components: [{ componentArn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:component/update-linux/1.0.2/1` }],
        parentImage: 'arn:aws:imagebuilder:us-west-1:aws:image/debian-12-x86/x.x.x',
        dateCreated: '2021-02-24T00:31:54.000Z',
        tags: {},
        workingDirectory: '/tmp',
        description: undefined,
      },
      sourcePipelineArn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:image-pipeline/example-linux-pipeline`,
      sourcePipelineName: 'example-linux-pipeline',
      infrastructureConfiguration: {
        arn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:infrastructure-configuration/example-infra`,
        name: 'example-infra',
        instanceProfileName: 'kiln',
        snsTopicArn: `arn:aws:sns:us-west-1:${ACCOUNT}:example-notices`,
        terminateInstanceOnFailure: true,
        dateCreated: '2021-02-24T00:31:55.000Z',
        dateUpdated: '2021-03-01T12:00:00.000Z',
      },
      imageTestsConfiguration: { imageTestsEnabled: true, timeoutMinutes: 60 },
      distributionConfiguration: {
        arn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:distribution-configuration/example-distribution`,
        name: 'example-distribution',
        dateCreated: '2021-02-24T00:31:56.000Z',
        distributions: [{ region: 'us-west-1', amiDistributionConfiguration: {} }],
        tags: { owner: 'platform' },
      },
      outputResources: { amis: [{ region: 'us-west-1', image: 'ami-01a23bc4def5a6789', name: 'example-linux-image 2022-07-28T01-14-17.416Z', accountId: ACCOUNT }] },
      buildType: 'SCHEDULED',
      imageSource: 'CUSTOM',
      tags: { team: 'web' },
      dateCreated: '2022-07-28T01:13:45.000Z',
      ...overrides,
    },
  };
}

test('javaDate writes the Java style AWS uses in SNS messages, in UTC, with 12-hour clock edges right', () => {
  assert.equal(javaDate('2022-07-28T01:13:45.416Z'), 'Jul 28, 2022 1:13:45 AM');
  assert.equal(javaDate('2022-07-05T19:40:15Z'), 'Jul 5, 2022 7:40:15 PM');
  assert.equal(javaDate('2021-12-03T00:04:09Z'), 'Dec 3, 2021 12:04:09 AM');
  assert.equal(javaDate('2021-12-03T12:00:00Z'), 'Dec 3, 2021 12:00:00 PM');
  assert.equal(javaDate('not a date'), 'not a date');
});

test('the image message has AWS fields, order and formats: versionlessArn, semver as a big integer, Java dates, snapshots with accountId and tags', () => {
  const text = imageSnsMessage(record(), { buildExecutionId: 'wf-b', testExecutionId: 'wf-t', distributionJobId: 'wf-d' });
  // 2^90 + 3 for 1.0.0/3, the value in AWS's own example, written as a bare number beyond 2^53.
  assert.match(text, /\n {2}"semver": 1237940039285380274899124227,\n/);
  assert.ok(text.startsWith('{\n  "versionlessArn": '), 'pretty-printed with two spaces, versionlessArn first');
  const m = JSON.parse(text) as ImageSnsMessage;
  assert.deepEqual(Object.keys(m), [
    'versionlessArn',
    'semver',
    'arn',
    'name',
    'version',
    'type',
    'buildVersion',
    'state',
    'platform',
    'imageRecipe',
    'sourcePipelineArn',
    'infrastructureConfiguration',
    'imageTestsConfigurationDocument',
    'distributionConfiguration',
    'dateCreated',
    'outputResources',
    'buildExecutionId',
    'testExecutionId',
    'distributionJobId',
    'accountId',
    'osVersion',
    'enhancedImageMetadataEnabled',
    'buildType',
    'tags',
  ]);
  assert.equal(m.versionlessArn, `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:image/example-linux-image`);
  assert.equal(m.arn, ARN);
  assert.equal(m.name, 'Example Linux Image');
  assert.equal(m.version, '1.0.0');
  assert.equal(m.buildVersion, 3);
  assert.deepEqual(m.state, { status: 'AVAILABLE' });
  assert.equal(m.dateCreated, 'Jul 28, 2022 1:13:45 AM');
  assert.equal(m.accountId, ACCOUNT);
  assert.equal(m.enhancedImageMetadataEnabled, true, 'AWS default when unset');
  assert.equal(m.buildType, 'SCHEDULED');
  assert.deepEqual(m.imageTestsConfigurationDocument, { imageTestsEnabled: true, timeoutMinutes: 60 });
  assert.equal(m.outputResources.amis?.[0]?.image, 'ami-01a23bc4def5a6789');
  assert.deepEqual(m.tags.team, 'web');
  assert.equal(m.tags.resourceArn, ARN);
  assert.match(m.tags.internalId!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.equal('sourcePipelineName' in m, false, 'not a field of the message');

  assert.equal(m.imageRecipe?.dateCreated, 'Feb 24, 2021 12:31:54 AM');
  assert.equal(m.imageRecipe?.accountId, ACCOUNT);
  assert.equal(m.imageRecipe?.tags?.resourceArn, m.imageRecipe?.arn);
  assert.equal('description' in m.imageRecipe!, false, 'unset fields are left out');
  assert.equal(m.infrastructureConfiguration?.snsTopicArn, `arn:aws:sns:us-west-1:${ACCOUNT}:example-notices`);
  assert.equal(m.infrastructureConfiguration?.dateUpdated, 'Mar 1, 2021 12:00:00 PM');
  assert.equal(m.distributionConfiguration?.tags?.owner, 'platform');
  assert.equal(m.distributionConfiguration?.accountId, ACCOUNT);
});

test('a failed container image: reason in state, containerRecipe instead of imageRecipe, default tests document, no run ids', () => {
  const m = JSON.parse(
    imageSnsMessage(
      record({
        type: 'DOCKER',
        imageRecipe: undefined,
        containerRecipe: { arn: `arn:aws:imagebuilder:us-west-1:${ACCOUNT}:container-recipe/app/1.0.0`, name: 'app', dateCreated: '2022-01-01T00:00:00Z' },
        state: { status: 'FAILED', reason: 'Workflow Execution ID: wf-1 failed with reason: Step ApplyBuildComponents failed' },
        imageTestsConfiguration: undefined,
        outputResources: undefined,
        sourcePipelineArn: undefined,
      }),
    ),
  ) as ImageSnsMessage;
  assert.deepEqual(m.state, { status: 'FAILED', reason: 'Workflow Execution ID: wf-1 failed with reason: Step ApplyBuildComponents failed' });
  assert.equal(m.imageRecipe, undefined);
  assert.equal(m.containerRecipe?.dateCreated, 'Jan 1, 2022 12:00:00 AM');
  assert.deepEqual(m.imageTestsConfigurationDocument, { imageTestsEnabled: true, timeoutMinutes: 720 });
  assert.deepEqual(m.outputResources, { containers: [] });
  assert.equal(m.buildExecutionId, undefined);
  assert.equal(m.sourcePipelineArn, undefined);
});

test('a tag value that looks like the bigint marker stays a string', () => {
  const m = JSON.parse(imageSnsMessage(record({ tags: { tricky: '__kiln_bigint_00__5' } }))) as { tags: Record<string, string> };
  assert.equal(m.tags.tricky, '__kiln_bigint_00__5');
});

test('the SNS HTTP envelope and headers are what SNS sends to an HTTP subscription', () => {
  const message = imageSnsMessage(record());
  const topicArn = `arn:aws:sns:us-west-1:${ACCOUNT}:example-notices`;
  const n = snsNotification({ topicArn, messageId: 'm-1', subject: imageSubject(record()), message, timestamp: new Date('2022-07-28T01:20:00.123Z'), subscriptionArn: `${topicArn}:sub` });
  const body = JSON.parse(n.body) as Record<string, string>;
  assert.deepEqual(Object.keys(body), ['Type', 'MessageId', 'TopicArn', 'Subject', 'Message', 'Timestamp']);
  assert.equal(body.Type, 'Notification');
  assert.equal(body.Message, message, 'Message is the message text itself, as a JSON string');
  assert.equal(body.Timestamp, '2022-07-28T01:20:00.123Z');
  assert.equal(body.Subject, 'Image Builder: Example Linux Image 1.0.0/3 is AVAILABLE');
  assert.deepEqual(n.headers, {
    'content-type': 'text/plain; charset=UTF-8',
    'x-amz-sns-message-type': 'Notification',
    'x-amz-sns-message-id': 'm-1',
    'x-amz-sns-topic-arn': topicArn,
    'x-amz-sns-subscription-arn': `${topicArn}:sub`,
  });
  assert.ok(imageSubject(record({ name: 'n'.repeat(200) })).length <= 100, 'SNS subjects are at most 100 characters');
});
