import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { advertisedUrl, parseAdvertise, parseRoles, resolveRoles } from './node-roles.js';

test('parseRoles: any order and repeats, in role order; unknown or empty names --roles', () => {
  assert.deepEqual(parseRoles('worker,api, worker'), ['api', 'worker']);
  assert.deepEqual(parseRoles('scheduler'), ['scheduler']);
  assert.throws(() => parseRoles('api,builder'), /^Error: --roles takes a comma-separated list of api, scheduler, worker; got 'builder'$/);
  assert.throws(() => parseRoles(' '), /--roles .*got an empty list/);
  assert.throws(() => parseRoles('api,'), /--roles .*got ''/);
});

test('resolveRoles: roles win; without them the builds and scheduler switches keep their old meaning', () => {
  assert.deepEqual(resolveRoles({}), ['api', 'scheduler', 'worker']);
  assert.deepEqual(resolveRoles({ builds: false }), ['api']);
  assert.deepEqual(resolveRoles({ builds: false, scheduler: true }), ['api', 'scheduler']);
  assert.deepEqual(resolveRoles({ scheduler: false }), ['api', 'worker']);
  assert.deepEqual(resolveRoles({ roles: ['worker'], builds: false }), ['worker']);
  assert.throws(() => resolveRoles({ roles: [] }), /^Error: roles: /);
});

test('advertise: from the listen address, a wildcard becoming the host name; a given URL is checked', () => {
  assert.equal(advertisedUrl({ host: '127.0.0.1', port: 8421 }, false), 'http://127.0.0.1:8421');
  assert.equal(advertisedUrl({ host: '::1', port: 8421 }, true), 'https://[::1]:8421');
  assert.equal(advertisedUrl({ host: '0.0.0.0', port: 8421 }, false), `http://${hostname()}:8421`);
  assert.equal(parseAdvertise('http://worker-1.example:8421/'), 'http://worker-1.example:8421');
  for (const bad of ['worker-1:8421', 'ftp://w', 'http://w/path', 'http://u:p@w']) assert.throws(() => parseAdvertise(bad), /^Error: --advertise must be/, bad);
});
