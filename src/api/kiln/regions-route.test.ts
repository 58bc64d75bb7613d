import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture } from '../../../test/api/fixture.js';
import { REGIONS_PATH, type RegionsAnswer } from './regions-route.js';

test('GET /kiln/regions: the configured regions in configuration order, without a signature', async (t) => {
  const f = await startFixture(t, { config: { regions: ['eu-kiln-1', 'local'] } });
  const res = await fetch(new URL(REGIONS_PATH, f.server.endpoint));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual((await res.json()) as RegionsAnswer, { regions: ['eu-kiln-1', 'local'] });
});
