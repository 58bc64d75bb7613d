import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkScheduleExpression, isValidTimeZone, nextRun, nextRuns, parseScheduleExpression } from './schedule.js';
import { isKilnError } from './errors.js';

const runs = (expression: string, after: string, timeZone?: string, count = 5) =>
  nextRuns(parseScheduleExpression(expression), new Date(after), count, timeZone === undefined ? {} : { timeZone }).map((d) => d.toISOString().replace(':00.000Z', 'Z'));

test('next five runs', async (t) => {
  // US DST in 2026 starts Sunday 8 March (02:00 -> 03:00) and ends Sunday 1 November (02:00 -> 01:00).
  const cases: { expr: string; after: string; tz?: string; want: string[] }[] = [
    { expr: 'cron(0 10 * * ? *)', after: '2026-01-30T11:00:00Z', want: ['2026-01-31T10:00Z', '2026-02-01T10:00Z', '2026-02-02T10:00Z', '2026-02-03T10:00Z', '2026-02-04T10:00Z'] },
    { expr: 'cron(0 18 ? * mon-fri *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-01T18:00Z', '2026-01-02T18:00Z', '2026-01-05T18:00Z', '2026-01-06T18:00Z', '2026-01-07T18:00Z'] },
    { expr: 'cron(0/15 * * * ? *)', after: '2026-05-01T23:31:10Z', want: ['2026-05-01T23:45Z', '2026-05-02T00:00Z', '2026-05-02T00:15Z', '2026-05-02T00:30Z', '2026-05-02T00:45Z'] },
    { expr: 'cron(5,35 1-2 1 JAN,JUL ? 2027-2028)', after: '2026-06-01T00:00:00Z', want: ['2027-01-01T01:05Z', '2027-01-01T01:35Z', '2027-01-01T02:05Z', '2027-01-01T02:35Z', '2027-07-01T01:05Z'] },
    { expr: 'cron(0 0 29 2 ? *)', after: '2026-01-01T00:00:00Z', want: ['2028-02-29T00:00Z', '2032-02-29T00:00Z', '2036-02-29T00:00Z', '2040-02-29T00:00Z', '2044-02-29T00:00Z'] },
    { expr: 'cron(0 0 1 1 ? 2198/1)', after: '2026-01-01T00:00:00Z', want: ['2198-01-01T00:00Z', '2199-01-01T00:00Z'] },
    { expr: 'cron(0 9 * * ? *)', after: '2026-03-06T00:00:00Z', tz: 'America/New_York', want: ['2026-03-06T14:00Z', '2026-03-07T14:00Z', '2026-03-08T13:00Z', '2026-03-09T13:00Z', '2026-03-10T13:00Z'] },
    // 02:30 does not exist on 8 March in New York: that run is skipped.
    { expr: 'cron(30 2 * * ? *)', after: '2026-03-06T12:00:00Z', tz: 'America/New_York', want: ['2026-03-07T07:30Z', '2026-03-09T06:30Z', '2026-03-10T06:30Z', '2026-03-11T06:30Z', '2026-03-12T06:30Z'] },
    { expr: 'cron(0 * * * ? *)', after: '2026-03-08T05:30:00Z', tz: 'America/New_York', want: ['2026-03-08T06:00Z', '2026-03-08T07:00Z', '2026-03-08T08:00Z', '2026-03-08T09:00Z', '2026-03-08T10:00Z'] },
    // 01:00-01:59 happens twice on 1 November: hourly and 01:30 runs fire once, at the first occurrence.
    { expr: 'cron(0 * * * ? *)', after: '2026-11-01T03:30:00Z', tz: 'America/New_York', want: ['2026-11-01T04:00Z', '2026-11-01T05:00Z', '2026-11-01T07:00Z', '2026-11-01T08:00Z', '2026-11-01T09:00Z'] },
    { expr: 'cron(30 1 * * ? *)', after: '2026-10-30T12:00:00Z', tz: 'America/New_York', want: ['2026-10-31T05:30Z', '2026-11-01T05:30Z', '2026-11-02T06:30Z', '2026-11-03T06:30Z', '2026-11-04T06:30Z'] },
    { expr: 'cron(0 12 L * ? *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-31T12:00Z', '2026-02-28T12:00Z', '2026-03-31T12:00Z', '2026-04-30T12:00Z', '2026-05-31T12:00Z'] },
    // January 2026 ends on a Saturday, May 2026 on a Sunday.
    { expr: 'cron(0 12 LW * ? *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-30T12:00Z', '2026-02-27T12:00Z', '2026-03-31T12:00Z', '2026-04-30T12:00Z', '2026-05-29T12:00Z'] },
    // 1 Aug 2026 is a Saturday: the nearest weekday stays in August (Monday 3rd); 15 Mar 2026 is a Sunday.
    { expr: 'cron(0 8 1W * ? *)', after: '2026-07-15T00:00:00Z', want: ['2026-08-03T08:00Z', '2026-09-01T08:00Z', '2026-10-01T08:00Z', '2026-11-02T08:00Z', '2026-12-01T08:00Z'] },
    { expr: 'cron(0 8 15W * ? *)', after: '2026-02-20T00:00:00Z', want: ['2026-03-16T08:00Z', '2026-04-15T08:00Z', '2026-05-15T08:00Z', '2026-06-15T08:00Z', '2026-07-15T08:00Z'] },
    // 31 Jan 2027 is a Sunday: 31W moves back to Friday the 29th; months without a 31st are skipped.
    { expr: 'cron(0 8 31W * ? *)', after: '2026-12-15T00:00:00Z', want: ['2026-12-31T08:00Z', '2027-01-29T08:00Z', '2027-03-31T08:00Z', '2027-05-31T08:00Z', '2027-07-30T08:00Z'] },
    { expr: 'cron(0 12 ? * 6L *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-30T12:00Z', '2026-02-27T12:00Z', '2026-03-27T12:00Z', '2026-04-24T12:00Z', '2026-05-29T12:00Z'] },
    { expr: 'cron(0 12 ? * L *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-03T12:00Z', '2026-01-10T12:00Z', '2026-01-17T12:00Z', '2026-01-24T12:00Z', '2026-01-31T12:00Z'] },
    { expr: 'cron(30 22 ? * tue#2 *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-13T22:30Z', '2026-02-10T22:30Z', '2026-03-10T22:30Z', '2026-04-14T22:30Z', '2026-05-12T22:30Z'] },
    // Only some months have a fifth Friday.
    { expr: 'cron(0 0 ? * 6#5 *)', after: '2026-01-01T00:00:00Z', want: ['2026-01-30T00:00Z', '2026-05-29T00:00Z', '2026-07-31T00:00Z', '2026-10-30T00:00Z', '2027-01-29T00:00Z'] },
    { expr: 'cron(0 3 ? * SUN#2 *)', after: '2026-02-01T00:00:00Z', tz: 'America/New_York', want: ['2026-02-08T08:00Z', '2026-03-08T07:00Z', '2026-04-12T07:00Z', '2026-05-10T07:00Z', '2026-06-14T07:00Z'] },
    { expr: 'cron(0 0 * * ? *)', after: '2026-03-29T00:30:00Z', tz: 'Asia/Kolkata', want: ['2026-03-29T18:30Z', '2026-03-30T18:30Z', '2026-03-31T18:30Z', '2026-04-01T18:30Z', '2026-04-02T18:30Z'] },
  ];
  for (const c of cases) {
    await t.test(`${c.expr} ${c.tz ?? 'UTC'}`, () => assert.deepEqual(runs(c.expr, c.after, c.tz), c.want));
  }
});

test('rate expressions run every period from the anchor, ignoring wall clocks', () => {
  const anchor = new Date('2026-03-07T12:00:00Z');
  const expr = parseScheduleExpression('rate(1 day)');
  assert.deepEqual(
    nextRuns(expr, new Date('2026-03-07T13:00:00Z'), 3, { anchor, timeZone: 'America/New_York' }).map((d) => d.toISOString()),
    ['2026-03-08T12:00:00.000Z', '2026-03-09T12:00:00.000Z', '2026-03-10T12:00:00.000Z'],
  );
  assert.equal(nextRun(parseScheduleExpression('rate(90 minutes)'), new Date('2026-01-01T00:00:00Z'), { anchor: new Date('2026-01-01T00:00:00Z') })?.toISOString(), '2026-01-01T01:30:00.000Z');
  assert.equal(nextRun(parseScheduleExpression('rate(2 hours)'), new Date('2026-01-01T00:00:00Z'), { anchor: new Date('2026-01-01T05:00:00Z') })?.toISOString(), '2026-01-01T07:00:00.000Z');
  assert.deepEqual(parseScheduleExpression('rate(1 minute)'), { kind: 'rate', text: 'rate(1 minute)', value: 1, unit: 'minute', periodMs: 60_000 });
});

test('a cron expression that never fires again has no next run', () => {
  assert.equal(nextRun(parseScheduleExpression('cron(0 0 1 1 ? 1999)'), new Date('2026-01-01T00:00:00Z')), undefined);
  assert.equal(nextRun(parseScheduleExpression('cron(0 0 30 FEB ? *)'), new Date('2026-01-01T00:00:00Z')), undefined);
});

test('valid expressions', () => {
  for (const text of [
    'cron(0 10 * * ? *)',
    'cron(15 10 ? * 6L 2026-2030)',
    'cron(0/5 8-17 ? * MON-FRI *)',
    'cron(0 0 LW JAN-DEC ? *)',
    'cron(0 0 ? * 1#1 *)',
    'cron(0 0 ? * fri#2 *)',
    'cron(0 0 3W */2 ? *)',
    'cron(  0   0 1 * ? *  )',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(7 days)',
  ]) {
    assert.deepEqual(checkScheduleExpression(text).problems, [], text);
  }
});

test('invalid expressions name the field and what is wrong', () => {
  const cases: [string, RegExp[]][] = [
    ['cron(0 0 ? * MON#6 *)', [/^cron field 5 \(day-of-week\): "MON#6": the occurrence after '#' must be 1-5/]],
    ['cron(0 0 ? * MON#0 *)', [/field 5 \(day-of-week\): "MON#0"/]],
    ['cron(0 0 ? * 8 *)', [/field 5 \(day-of-week\): "8": 8 is out of range 1-7/]],
    ['cron(0 0 ? * 1/2 *)', [/field 5 \(day-of-week\): "1\/2": '\/' is not allowed/]],
    ['cron(0 0 ? * MON,FRI#2 *)', [/field 5 \(day-of-week\).*stand alone/]],
    ['cron(0 0 * * * *)', [/fields 3 \(day-of-month\) "\*" and 5 \(day-of-week\) "\*": exactly one of them must be '\?'/]],
    ['cron(0 0 ? * ? *)', [/both '\?'/]],
    ['cron(0 0 * * MON *)', [/exactly one of them must be '\?'/]],
    ['cron(60 0 * * ? *)', [/field 1 \(minutes\): "60": 60 is out of range 0-59/]],
    ['cron(0 24 * * ? *)', [/field 2 \(hours\): "24"/]],
    ['cron(0 0 32 * ? *)', [/field 3 \(day-of-month\): "32"/]],
    ['cron(0 0 0 * ? *)', [/field 3 \(day-of-month\): "0"/]],
    ['cron(0 0 L-3 * ? *)', [/field 3 \(day-of-month\): "L-3".*stand alone/]],
    ['cron(0 0 1,LW * ? *)', [/field 3 \(day-of-month\).*stand alone/]],
    ['cron(0 0 32W * ? *)', [/field 3 \(day-of-month\): "32W"/]],
    ['cron(0 0 1 13 ? *)', [/field 4 \(month\): "13"/]],
    ['cron(0 0 1 FOO ? *)', [/field 4 \(month\): "FOO": "FOO" is not a number or JAN-DEC/]],
    ['cron(0 0 1 * ? 1969)', [/field 6 \(year\): "1969": 1969 is out of range 1970-2199/]],
    ['cron(0 0 1 * ? 2200)', [/field 6 \(year\)/]],
    ['cron(0 0 ? * L *)', []],
    ['cron(10-5 0 1 * ? *)', [/field 1 \(minutes\): "10-5": the range runs backwards/]],
    ['cron(0/0 0 1 * ? *)', [/field 1 \(minutes\): "0\/0": the step/]],
    ['cron(1,,2 0 1 * ? *)', [/field 1 \(minutes\): "1,,2" has an empty list item/]],
    ['cron(? 0 1 * ? *)', [/field 1 \(minutes\): "\?" is allowed only in day-of-month and day-of-week/]],
    ['cron(MON 0 1 * ? *)', [/field 1 \(minutes\): "MON": "MON" is not a number$/]],
    ['cron(0 10 * * ?)', [/has 5 fields; it needs 6/]],
    ['cron(0 0 10 * * ? *)', [/has 7 fields/]],
    ['cron(60 24 * * ? *)', [/field 1 \(minutes\)/, /field 2 \(hours\)/]],
    ['rate(1 minutes)', [/"rate\(1 minutes\)": use "minute" with the value 1/]],
    ['rate(5 minute)', [/use "minutes" with the value 5/]],
    ['rate(0 minutes)', [/value "0" must be a positive integer/]],
    ['rate(1.5 hours)', [/value "1.5" must be a positive integer/]],
    ['rate(2 weeks)', [/unit "weeks" must be minute\(s\), hour\(s\) or day\(s\)/]],
    ['rate(5)', [/must be rate\(<value> <unit>\)/]],
    ['0 10 * * ? *', [/must be cron\(<6 fields>\) or rate\(<value> <unit>\)/]],
    ['at(2026-01-01T00:00:00)', [/must be cron/]],
  ];
  for (const [text, want] of cases) {
    const { problems } = checkScheduleExpression(text);
    assert.equal(problems.length, want.length, `${text}: ${problems.join(' | ')}`);
    want.forEach((re, i) => assert.match(problems[i]!, re, text));
  }
});

test('parseScheduleExpression throws InvalidArgument with every problem under the given path', () => {
  assert.throws(
    () => parseScheduleExpression('cron(60 24 * * ? *)', 'schedule.scheduleExpression'),
    (e: unknown) => {
      assert.ok(isKilnError(e, 'InvalidArgument'));
      assert.match(e.message, /'schedule.scheduleExpression'.*field 1 \(minutes\).*field 2 \(hours\)/);
      assert.deepEqual(e.issues.map((i) => i.path), ['schedule.scheduleExpression', 'schedule.scheduleExpression']);
      return true;
    },
  );
});

test('time zones: the IANA names Intl knows, their aliases, and UTC', () => {
  for (const zone of ['UTC', 'America/New_York', 'Europe/Paris', 'Asia/Kolkata', 'Asia/Calcutta', 'Etc/UTC']) assert.ok(isValidTimeZone(zone), zone);
  for (const zone of ['Mars/Olympus', '', 'New York', '+05:00', 'America/New_York/x']) assert.ok(!isValidTimeZone(zone), zone);
});
