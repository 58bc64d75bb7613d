import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatArn, nameToSlug, parseArn } from './arn.js';

test('nameToSlug lower-cases and turns spaces into dashes', () => {
  const cases: [string, string][] = [
    ['My Example Image', 'my-example-image'],
    ['hello_World-2', 'hello_world-2'],
    ['already-slug', 'already-slug'],
  ];
  for (const [name, slug] of cases) assert.equal(nameToSlug(name), slug);
});

test('parseArn reads every ARN shape and formatArn writes it back', () => {
  const cases: [string, ReturnType<typeof parseArn>][] = [
    [
      'arn:aws:imagebuilder:local:111122223333:component/my-component/1.2.3/1',
      { partition: 'aws', region: 'local', owner: '111122223333', resourceType: 'component', name: 'my-component', version: '1.2.3', build: 1 },
    ],
    [
      'arn:aws:imagebuilder:local:111122223333:component/my-component/1.x.x',
      { partition: 'aws', region: 'local', owner: '111122223333', resourceType: 'component', name: 'my-component', version: '1.x.x' },
    ],
    ['arn:aws:imagebuilder:local:aws:image/debian-12-x86/x.x.x', { partition: 'aws', region: 'local', owner: 'aws', resourceType: 'image', name: 'debian-12-x86', version: 'x.x.x' }],
    [
      'arn:aws:imagebuilder:us-east-1:aws:workflow/build/build-image/1.0.0/1',
      { partition: 'aws', region: 'us-east-1', owner: 'aws', resourceType: 'workflow/build', name: 'build-image', version: '1.0.0', build: 1 },
    ],
    [
      'arn:aws-cn:imagebuilder:local:111122223333:infrastructure-configuration/infra',
      { partition: 'aws-cn', region: 'local', owner: '111122223333', resourceType: 'infrastructure-configuration', name: 'infra' },
    ],
  ];
  for (const [text, expected] of cases) {
    assert.deepEqual(parseArn(text), expected, text);
    assert.equal(formatArn(expected!), text);
  }
});

test('parseArn rejects what is not an Image Builder ARN', () => {
  for (const text of [
    'arn:aws:s3:::bucket',
    'arn:aws:imagebuilder:local:1234:component/a/1.0.0/1',
    'arn:aws:imagebuilder:local:111122223333:component/Upper/1.0.0/1',
    'arn:aws:imagebuilder:local:111122223333:component/a/1.0/1',
    'arn:aws:imagebuilder:local:111122223333:component/a/1.0.0/1/2',
    '',
  ]) {
    assert.equal(parseArn(text), undefined, text);
  }
});
