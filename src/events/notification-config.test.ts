import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadServerConfig } from '../app/server-config.js';
import { DEFAULT_DELIVERY, parseNotificationsConfig } from './notification-config.js';

const TOPIC = 'arn:aws:sns:local:123456789012:image-builds';

test('topics map SNS topic ARNs to endpoints; delivery settings are seconds; defaults otherwise', () => {
  const problems: string[] = [];
  const config = parseNotificationsConfig(
    {
      topics: { [TOPIC]: [{ url: 'https://ci.example.com/hooks/kiln?x=1', secret: 's3cret' }, { url: 'http://127.0.0.1:9000/' }] },
      delivery: { attempts: 3, firstRetrySeconds: 0.5, timeoutSeconds: 2 },
    },
    problems,
  );
  assert.deepEqual(problems, []);
  assert.deepEqual(config.topics, { [TOPIC]: [{ url: 'https://ci.example.com/hooks/kiln?x=1', secret: 's3cret' }, { url: 'http://127.0.0.1:9000/' }] });
  assert.deepEqual(config.delivery, { attempts: 3, firstRetryMs: 500, maxRetryMs: DEFAULT_DELIVERY.maxRetryMs, timeoutMs: 2000 });
  assert.deepEqual(parseNotificationsConfig({}, problems), { topics: {}, delivery: DEFAULT_DELIVERY });
  assert.deepEqual(problems, []);
});

test('every problem names its field', () => {
  const problems: string[] = [];
  parseNotificationsConfig(
    {
      topics: {
        'arn:aws:sqs:local:123456789012:q': [{ url: 'http://a/' }],
        [TOPIC]: [{ url: 'ftp://x/' }, { url: 'https://user:pw@host/' }, { secret: '' }, 'http://bare', { url: 'http://ok/', header: 'x' }],
        'arn:aws:sns:local:123456789012:empty': [],
      },
      delivery: { attempts: 0, firstRetrySeconds: 10, maxRetrySeconds: 5, jitter: true },
      retries: 3,
    },
    problems,
  );
  assert.deepEqual(problems, [
    'notifications.topics["arn:aws:sqs:local:123456789012:q"]: the key must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)',
    `notifications.topics["${TOPIC}"][0].url: must be an http:// or https:// URL, got 'ftp://x/'`,
    `notifications.topics["${TOPIC}"][1].url: must not contain user:password@ (give the endpoint a secret instead)`,
    `notifications.topics["${TOPIC}"][2].url: must be an http:// or https:// URL`,
    `notifications.topics["${TOPIC}"][2].secret: must be a non-empty string`,
    `notifications.topics["${TOPIC}"][3]: must be a mapping {url, secret?}`,
    `notifications.topics["${TOPIC}"][4].header: unknown setting`,
    'notifications.topics["arn:aws:sns:local:123456789012:empty"]: must be a non-empty list of {url, secret?}',
    'notifications.delivery.attempts: must be a whole number from 1 to 20',
    'notifications.delivery.jitter: unknown setting',
    'notifications.delivery.maxRetrySeconds: must not be less than firstRetrySeconds',
    'notifications.retries: unknown setting',
  ]);
  const more: string[] = [];
  parseNotificationsConfig('yes', more);
  parseNotificationsConfig({ topics: [] }, more);
  assert.deepEqual(more, ['notifications: must be a mapping {topics, delivery?}', 'notifications.topics: must map SNS topic ARNs to lists of endpoints']);
});

test('the server configuration file carries a notifications section, and reports its problems with the file', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-notify-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kiln.yaml');
  writeFileSync(file, `notifications:\n  topics:\n    "${TOPIC}":\n      - url: http://127.0.0.1:9000/hook\n        secret: abc\n  delivery:\n    attempts: 2\n`);
  const config = loadServerConfig(file);
  assert.deepEqual(config.notifications.topics, { [TOPIC]: [{ url: 'http://127.0.0.1:9000/hook', secret: 'abc' }] });
  assert.equal(config.notifications.delivery.attempts, 2);
  assert.deepEqual(loadServerConfig(undefined).notifications, { topics: {}, delivery: DEFAULT_DELIVERY });

  writeFileSync(file, `notifications:\n  topics:\n    "${TOPIC}":\n      - url: nope\n`);
  assert.throws(() => loadServerConfig(file), new RegExp(`is invalid:\\n {2}notifications\\.topics\\["${TOPIC}"\\]\\[0\\]\\.url: must be an http`));
});
