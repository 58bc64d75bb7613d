import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKilnError } from './errors.js';
import { encodePageToken, paginate, queryFingerprint } from './pagination.js';

const items = Array.from({ length: 7 }, (_, i) => i);

test('paginate walks every item once, in order, then stops', () => {
  const fp = queryFingerprint(['ListComponents', 'acct']);
  const seen: number[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = paginate(items, token === undefined ? { maxResults: 3 } : { maxResults: 3, nextToken: token }, fp);
    seen.push(...page.items);
    token = page.nextToken;
    pages++;
  } while (token !== undefined);
  assert.deepEqual(seen, items);
  assert.equal(pages, 3);
  assert.equal(paginate(items, {}, fp).nextToken, undefined);
});

test('paginate rejects maxResults outside 1-25 and foreign or forged tokens', () => {
  const fp = queryFingerprint(['a']);
  for (const maxResults of [0, 26, 1.5, -1]) {
    assert.throws(() => paginate(items, { maxResults }, fp), (e) => isKilnError(e, 'InvalidArgument'), String(maxResults));
  }
  const badTokens = ['garbage', '', encodePageToken(2, queryFingerprint(['b'])), Buffer.from('{"v":1,"o":-1,"q":"x"}').toString('base64url')];
  for (const nextToken of badTokens) {
    assert.throws(() => paginate(items, { nextToken }, fp), (e) => isKilnError(e, 'InvalidPaginationToken'), nextToken);
  }
});
