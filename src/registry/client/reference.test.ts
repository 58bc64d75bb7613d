import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKilnError } from '../../domain/errors.js';
import { formatImageReference, parseImageReference } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

test('Docker-style references: Docker Hub defaults, hosts, ports, tags and digests', () => {
  const cases: [string, ReturnType<typeof parseImageReference>][] = [
    ['debian:12', { registry: 'registry-1.docker.io', repository: 'library/debian', tag: '12' }],
    ['debian', { registry: 'registry-1.docker.io', repository: 'library/debian' }],
    ['bitnami/redis:7.2', { registry: 'registry-1.docker.io', repository: 'bitnami/redis', tag: '7.2' }],
    ['docker.io/debian:bookworm-slim', { registry: 'registry-1.docker.io', repository: 'library/debian', tag: 'bookworm-slim' }],
    ['index.docker.io/library/debian', { registry: 'registry-1.docker.io', repository: 'library/debian' }],
    [`host:5000/a/b@${D}`, { registry: 'host:5000', repository: 'a/b', digest: D }],
    [`127.0.0.1:8420/team/app:v1@${D}`, { registry: '127.0.0.1:8420', repository: 'team/app', tag: 'v1', digest: D }],
    ['localhost/x', { registry: 'localhost', repository: 'x' }],
    ['localhost:5000/x:y', { registry: 'localhost:5000', repository: 'x', tag: 'y' }],
    ['ghcr.io/org/tool:1.0', { registry: 'ghcr.io', repository: 'org/tool', tag: '1.0' }],
    ['[::1]:5000/x/y:z', { registry: '[::1]:5000', repository: 'x/y', tag: 'z' }],
    ['My.Registry.example/a__b/c-d.e:T_1', { registry: 'My.Registry.example', repository: 'a__b/c-d.e', tag: 'T_1' }],
  ];
  for (const [text, expected] of cases) {
    const ref = parseImageReference(text);
    assert.deepEqual(ref, expected, text);
    assert.deepEqual(parseImageReference(formatImageReference(ref)), ref, `${text} round-trips`);
  }
  assert.equal(formatImageReference({ registry: 'h:1', repository: 'a/b', tag: 't', digest: D }), `h:1/a/b:t@${D}`);
});

test('invalid references are InvalidArgument naming the reference', () => {
  for (const text of ['', 'Debian:12', 'debian:', 'debian:-x', 'a//b', 'host:5000/A', `debian@sha256:${'a'.repeat(63)}`, 'debian@md5:abc', 'debian:a:b', 'x/.y', 'bad_host:5000x/a']) {
    assert.throws(() => parseImageReference(text), (e) => isKilnError(e, 'InvalidArgument') && e.message.includes(JSON.stringify(text)), text);
  }
});
