/**
 * Image Builder schedule expressions: AWS's six-field `cron(...)` (EventBridge/Quartz dialect without seconds)
 * and `rate(N unit)`, with next-run computation in an IANA time zone.
 *
 * Written here rather than taken from npm: `cron-parser` has no `W` and no year field, and `croner` numbers
 * days of the week 0-6 (AWS: 1-7, SUN=1), puts seconds first and has no year field either, so neither reads
 * AWS's syntax exactly, and adapting their text would be as much code as this. Zone offsets come from
 * `Intl.DateTimeFormat`, so there is no time-zone database to ship.
 *
 * DST follows EventBridge Scheduler's documented rule: a local time that does not exist (spring forward) is
 * skipped, and a local time that occurs twice (fall back) runs once, at its first occurrence.
 */
import { KilnError } from './errors.js';

/** A `rate(N unit)` expression: runs every `periodMs` from an anchor instant. */
export interface RateExpression {
  kind: 'rate';
  text: string;
  value: number;
  unit: 'minute' | 'hour' | 'day';
  periodMs: number;
}

/** Day-of-month selection: a value set, or one of the special forms `L`, `LW`, `nW`. */
export type DayOfMonthSpec =
  | { kind: 'any' }
  | { kind: 'set'; values: ReadonlySet<number> }
  | { kind: 'last' }
  | { kind: 'lastWeekday' }
  | { kind: 'nearestWeekday'; day: number };

/** Day-of-week selection (1 = SUN ... 7 = SAT): a value set, `nL` (last n-day) or `n#k` (k-th n-day). */
export type DayOfWeekSpec =
  | { kind: 'any' }
  | { kind: 'set'; values: ReadonlySet<number> }
  | { kind: 'lastOfMonth'; weekday: number }
  | { kind: 'nth'; weekday: number; occurrence: number };

/** A parsed `cron(...)` expression; `any` is the `?` of day-of-month or day-of-week. */
export interface CronExpression {
  kind: 'cron';
  text: string;
  minutes: readonly number[];
  hours: readonly number[];
  dayOfMonth: DayOfMonthSpec;
  months: readonly number[];
  dayOfWeek: DayOfWeekSpec;
  years: readonly number[];
}

export type ScheduleExpression = CronExpression | RateExpression;

interface FieldDef {
  position: number;
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldDef[] = [
  { position: 1, label: 'minutes', min: 0, max: 59 },
  { position: 2, label: 'hours', min: 0, max: 23 },
  { position: 3, label: 'day-of-month', min: 1, max: 31 },
  { position: 4, label: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { position: 5, label: 'day-of-week', min: 1, max: 7, names: DAY_NAMES },
  { position: 6, label: 'year', min: 1970, max: 2199 },
];

const MINUTE_MS = 60_000;
const RATE_UNITS: Record<string, { unit: RateExpression['unit']; plural: boolean; ms: number }> = {
  minute: { unit: 'minute', plural: false, ms: MINUTE_MS },
  minutes: { unit: 'minute', plural: true, ms: MINUTE_MS },
  hour: { unit: 'hour', plural: false, ms: 60 * MINUTE_MS },
  hours: { unit: 'hour', plural: true, ms: 60 * MINUTE_MS },
  day: { unit: 'day', plural: false, ms: 24 * 60 * MINUTE_MS },
  days: { unit: 'day', plural: true, ms: 24 * 60 * MINUTE_MS },
};

/** Thrown inside the parser for one problem; collected per field so every field's problem is reported. */
class FieldProblem extends Error {}

function fieldPrefix(f: FieldDef): string {
  return `cron field ${f.position} (${f.label})`;
}

function parseValue(f: FieldDef, token: string, item: string): number {
  const upper = token.toUpperCase();
  let value: number;
  if (/^[0-9]+$/.test(token)) value = Number(token);
  else if (f.names?.includes(upper)) value = f.names.indexOf(upper) + f.min;
  else {
    const names = f.names ? ` or ${f.names[0]}-${f.names[f.names.length - 1]}` : '';
    throw new FieldProblem(`"${item}": "${token}" is not a number${names}`);
  }
  if (value < f.min || value > f.max) throw new FieldProblem(`"${item}": ${token} is out of range ${f.min}-${f.max}`);
  return value;
}

/** One list item of the plain forms `*`, `v`, `a-b`, each optionally `/step`; returns the values it selects. */
function parseItem(f: FieldDef, item: string, allowStep: boolean): number[] {
  const [rangePart, stepPart, extra] = item.split('/');
  if (extra !== undefined) throw new FieldProblem(`"${item}" has more than one '/'`);
  let start: number;
  let end: number;
  if (rangePart === '*') {
    start = f.min;
    end = f.max;
  } else {
    const bounds = (rangePart ?? '').split('-');
    if (bounds.length > 2 || bounds.some((b) => b === '')) throw new FieldProblem(`"${item}" is not a value, a range a-b, or *`);
    start = parseValue(f, bounds[0]!, item);
    end = bounds.length === 2 ? parseValue(f, bounds[1]!, item) : start;
    if (end < start) throw new FieldProblem(`"${item}": the range runs backwards (${bounds[0]} is after ${bounds[1]})`);
    // Quartz reads `5/15` as "from 5 to the end, every 15"; a bare value with a step starts a range.
    if (stepPart !== undefined && bounds.length === 1) end = f.max;
  }
  let step = 1;
  if (stepPart !== undefined) {
    if (!allowStep) throw new FieldProblem(`"${item}": '/' is not allowed in this field`);
    if (!/^[0-9]+$/.test(stepPart) || Number(stepPart) < 1 || Number(stepPart) > f.max - f.min + 1) {
      throw new FieldProblem(`"${item}": the step after '/' must be an integer from 1 to ${f.max - f.min + 1}`);
    }
    step = Number(stepPart);
  }
  const values: number[] = [];
  for (let v = start; v <= end; v += step) values.push(v);
  return values;
}

function parseList(f: FieldDef, text: string, allowStep = true): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') throw new FieldProblem(`"${text}" has an empty list item`);
    for (const v of parseItem(f, item, allowStep)) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function parseDayOfMonth(f: FieldDef, text: string): DayOfMonthSpec {
  const upper = text.toUpperCase();
  if (upper === '?') return { kind: 'any' };
  if (upper === 'L') return { kind: 'last' };
  if (upper === 'LW') return { kind: 'lastWeekday' };
  const w = /^([0-9]+)W$/.exec(upper);
  if (w) {
    const day = Number(w[1]);
    if (day < 1 || day > 31) throw new FieldProblem(`"${text}": the day before 'W' must be 1-31`);
    return { kind: 'nearestWeekday', day };
  }
  if (/[LW]/.test(upper)) {
    throw new FieldProblem(`"${text}": 'L', 'LW' and 'nW' (weekday nearest day n) stand alone; they cannot be combined with lists, ranges or steps`);
  }
  return { kind: 'set', values: new Set(parseList(f, text)) };
}

function parseDayOfWeek(f: FieldDef, text: string): DayOfWeekSpec {
  const upper = text.toUpperCase();
  if (upper === '?') return { kind: 'any' };
  // Alone, `L` is the last day of the week: Saturday, as in Quartz.
  if (upper === 'L') return { kind: 'set', values: new Set([7]) };
  const last = /^([0-9]+|[A-Z]{3})L$/.exec(upper);
  if (last) return { kind: 'lastOfMonth', weekday: parseValue(f, last[1]!, text) };
  const nth = /^([0-9]+|[A-Z]{3})#([0-9]+)$/.exec(upper);
  if (nth) {
    const weekday = parseValue(f, nth[1]!, text);
    const occurrence = Number(nth[2]);
    if (occurrence < 1 || occurrence > 5) throw new FieldProblem(`"${text}": the occurrence after '#' must be 1-5 (the nth such weekday of the month)`);
    return { kind: 'nth', weekday, occurrence };
  }
  if (upper.includes('#') || upper.includes('L')) {
    throw new FieldProblem(`"${text}": 'nL' (last n-day of the month) and 'n#k' (k-th n-day) stand alone; they cannot be combined with lists or ranges`);
  }
  if (upper.includes('/')) throw new FieldProblem(`"${text}": '/' is not allowed in day-of-week (allowed: , - * ? L #)`);
  return { kind: 'set', values: new Set(parseList(f, text, false)) };
}

/** Parses the inside of `cron(...)`; returns every problem found, one per field, plus the `?` rule. */
function parseCron(text: string, body: string): { expression?: CronExpression; problems: string[] } {
  const parts = body.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length !== 6) {
    return {
      problems: [
        `cron expression has ${parts.length} field${parts.length === 1 ? '' : 's'}; it needs 6: minutes hours day-of-month month day-of-week year (e.g. cron(0 10 * * ? *))`,
      ],
    };
  }
  const problems: string[] = [];
  const field = <T>(index: number, parse: (f: FieldDef, t: string) => T): T | undefined => {
    const f = FIELDS[index]!;
    const t = parts[index]!;
    try {
      if (t === '?' && index !== 2 && index !== 4) throw new FieldProblem(`"?" is allowed only in day-of-month and day-of-week`);
      return parse(f, t);
    } catch (err) {
      if (!(err instanceof FieldProblem)) throw err;
      problems.push(`${fieldPrefix(f)}: ${err.message}`);
      return undefined;
    }
  };
  const minutes = field(0, (f, t) => parseList(f, t));
  const hours = field(1, (f, t) => parseList(f, t));
  const dayOfMonth = field(2, parseDayOfMonth);
  const months = field(3, (f, t) => parseList(f, t));
  const dayOfWeek = field(4, parseDayOfWeek);
  const years = field(5, (f, t) => parseList(f, t));
  const domAny = parts[2] === '?';
  const dowAny = parts[4] === '?';
  if (domAny === dowAny) {
    problems.push(
      domAny
        ? `cron fields 3 (day-of-month) and 5 (day-of-week) are both '?'; exactly one of them must be '?'`
        : `cron fields 3 (day-of-month) "${parts[2]}" and 5 (day-of-week) "${parts[4]}": exactly one of them must be '?' (e.g. cron(0 10 * * ? *) or cron(0 10 ? * MON *))`,
    );
  }
  if (problems.length > 0 || !minutes || !hours || !dayOfMonth || !months || !dayOfWeek || !years) return { problems };
  return { expression: { kind: 'cron', text, minutes, hours, dayOfMonth, months, dayOfWeek, years }, problems };
}

function parseRate(text: string, body: string): { expression?: RateExpression; problems: string[] } {
  const m = /^\s*(\S+)\s+(\S+)\s*$/.exec(body);
  if (!m) return { problems: [`rate expression "${text}" must be rate(<value> <unit>), e.g. rate(5 minutes) or rate(1 day)`] };
  const [, valueText, unitText] = m as unknown as [string, string, string];
  const problems: string[] = [];
  const value = Number(valueText);
  if (!/^[0-9]+$/.test(valueText) || value < 1 || !Number.isSafeInteger(value)) problems.push(`rate expression "${text}": value "${valueText}" must be a positive integer`);
  const unit = RATE_UNITS[unitText];
  if (!unit) problems.push(`rate expression "${text}": unit "${unitText}" must be minute(s), hour(s) or day(s)`);
  else if (problems.length === 0 && unit.plural !== (value !== 1)) {
    problems.push(`rate expression "${text}": use "${value === 1 ? unit.unit : `${unit.unit}s`}" with the value ${value} (singular only for 1)`);
  }
  if (problems.length > 0 || !unit) return { problems };
  return { expression: { kind: 'rate', text, value, unit: unit.unit, periodMs: value * unit.ms }, problems };
}

/** Parses a schedule expression; returns the expression, or every problem found, each naming what is wrong. */
export function checkScheduleExpression(text: string): { expression?: ScheduleExpression; problems: string[] } {
  const m = /^\s*(cron|rate)\((.*)\)\s*$/s.exec(text);
  if (!m) return { problems: [`schedule expression "${text}" must be cron(<6 fields>) or rate(<value> <unit>)`] };
  return m[1] === 'cron' ? parseCron(text, m[2]!) : parseRate(text, m[2]!);
}

/** Parses a schedule expression or throws InvalidArgument listing every problem (issue path `path`). */
export function parseScheduleExpression(text: string, path = 'scheduleExpression'): ScheduleExpression {
  const { expression, problems } = checkScheduleExpression(text);
  if (!expression) {
    throw new KilnError('InvalidArgument', `The value supplied for parameter '${path}' is not valid: ${problems.join('; ')}`, problems.map((message) => ({ path, message })));
  }
  return expression;
}

let zoneList: Set<string> | undefined;

/**
 * True for the IANA zones this runtime knows (`Intl.supportedValuesOf('timeZone')`) plus `UTC`. That list holds
 * only ICU's canonical names (`Asia/Calcutta`, not `Asia/Kolkata`), so an alias whose resolution is listed counts too.
 */
export function isValidTimeZone(zone: string): boolean {
  if (zone === 'UTC') return true;
  zoneList ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zoneList.has(zone)) return true;
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/.test(zone)) return false;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: zone }).resolvedOptions().timeZone;
    return resolved === 'UTC' || zoneList.has(resolved);
  } catch {
    return false;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC in ms at an instant (local = utc + offset), read through Intl. */
function offsetAt(zone: string, instant: number): number {
  if (zone === 'UTC') return 0;
  let fmt = formatters.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(zone, fmt);
  }
  const p: Record<string, number> = {};
  for (const part of fmt.formatToParts(instant)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const local = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return local - Math.floor(instant / 1000) * 1000;
}

/**
 * The earliest instant whose wall clock in `zone` reads `wall` (a UTC-encoded local time); undefined when
 * that wall time falls into a gap. Offsets a day either side cover both sides of any one transition.
 */
function wallToInstant(zone: string, wall: number): number | undefined {
  if (zone === 'UTC') return wall;
  const offsets = new Set([offsetAt(zone, wall - 86_400_000), offsetAt(zone, wall), offsetAt(zone, wall + 86_400_000)]);
  let best: number | undefined;
  for (const o of offsets) {
    const t = wall - o;
    if (offsetAt(zone, t) === o && (best === undefined || t < best)) best = t;
  }
  return best;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** 1 = SUN ... 7 = SAT, as AWS numbers them. */
function weekday(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function domMatches(spec: DayOfMonthSpec, year: number, month: number, day: number): boolean {
  const last = daysInMonth(year, month);
  switch (spec.kind) {
    case 'any':
      return true;
    case 'set':
      return spec.values.has(day);
    case 'last':
      return day === last;
    case 'lastWeekday': {
      const wd = weekday(year, month, last);
      return day === (wd === 1 ? last - 2 : wd === 7 ? last - 1 : last);
    }
    case 'nearestWeekday': {
      if (spec.day > last) return false;
      const wd = weekday(year, month, spec.day);
      // The nearest weekday never leaves the month: the 1st on a Saturday moves to Monday the 3rd, and so on.
      let target = spec.day;
      if (wd === 7) target = spec.day === 1 ? 3 : spec.day - 1;
      else if (wd === 1) target = spec.day === last ? spec.day - 2 : spec.day + 1;
      return day === target;
    }
  }
}

function dowMatches(spec: DayOfWeekSpec, year: number, month: number, day: number): boolean {
  const wd = weekday(year, month, day);
  switch (spec.kind) {
    case 'any':
      return true;
    case 'set':
      return spec.values.has(wd);
    case 'lastOfMonth':
      return wd === spec.weekday && day + 7 > daysInMonth(year, month);
    case 'nth':
      return wd === spec.weekday && Math.ceil(day / 7) === spec.occurrence;
  }
}

function nextCronRun(expr: CronExpression, after: number, zone: string): number | undefined {
  // Walk wall-clock times in the zone from the minute after `after`, and keep the first whose instant is later.
  const startWall = after + offsetAt(zone, after);
  const start = new Date(Math.floor(startWall / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  const sy = start.getUTCFullYear();
  const sm = start.getUTCMonth() + 1;
  const sd = start.getUTCDate();
  const sh = start.getUTCHours();
  const smin = start.getUTCMinutes();
  for (const year of expr.years) {
    if (year < sy) continue;
    for (const month of expr.months) {
      if (year === sy && month < sm) continue;
      const firstDay = year === sy && month === sm ? sd : 1;
      for (let day = firstDay; day <= daysInMonth(year, month); day++) {
        if (!domMatches(expr.dayOfMonth, year, month, day) || !dowMatches(expr.dayOfWeek, year, month, day)) continue;
        const startDay = year === sy && month === sm && day === sd;
        for (const hour of expr.hours) {
          if (startDay && hour < sh) continue;
          for (const minute of expr.minutes) {
            if (startDay && hour === sh && minute < smin) continue;
            const instant = wallToInstant(zone, Date.UTC(year, month - 1, day, hour, minute));
            if (instant !== undefined && instant > after) return instant;
          }
        }
      }
    }
  }
  return undefined;
}

/**
 * The first run strictly after `after`: cron times are read in `timeZone` (default UTC); rate runs fall at
 * `anchor + k * period`, k >= 1 (anchor defaults to `after`, i.e. one period from now). Undefined when the
 * expression never fires again (years end at 2199).
 */
export function nextRun(expr: ScheduleExpression, after: Date, options: { timeZone?: string; anchor?: Date } = {}): Date | undefined {
  const t = after.getTime();
  if (expr.kind === 'rate') {
    const anchor = (options.anchor ?? after).getTime();
    const k = t < anchor ? 1 : Math.floor((t - anchor) / expr.periodMs) + 1;
    return new Date(anchor + k * expr.periodMs);
  }
  const next = nextCronRun(expr, t, options.timeZone ?? 'UTC');
  return next === undefined ? undefined : new Date(next);
}

/** The next `count` runs after `after` (fewer when the expression stops firing). */
export function nextRuns(expr: ScheduleExpression, after: Date, count: number, options: { timeZone?: string; anchor?: Date } = {}): Date[] {
  const runs: Date[] = [];
  let cursor = after;
  const anchor = options.anchor ?? after;
  while (runs.length < count) {
    const next = nextRun(expr, cursor, { ...options, anchor });
    if (!next) break;
    runs.push(next);
    cursor = next;
  }
  return runs;
}
