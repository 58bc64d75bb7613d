import assert from 'node:assert/strict';
import test from 'node:test';
import { LineAssembler, MAX_LINE_LENGTH, type LogLine } from './line-assembler.js';
import { formatRecord, legacyLines, parseRecord, STAMPED_LOG_HEADER } from './step-log-format.js';

function collect(): { lines: LogLine[]; asm: LineAssembler } {
  const lines: LogLine[] = [];
  let tick = 0;
  const asm = new LineAssembler((l) => lines.push(l), () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)));
  return { lines, asm };
}
const shown = (lines: LogLine[]) => lines.map((l) => `${l.stream}:${l.text}`);

test("a partial line is held while the other stream writes: printf 'abc'; printf 'err\\n' >&2; printf 'def\\n'", () => {
  const { lines, asm } = collect();
  asm.write('stdout', 'abc');
  asm.write('stderr', 'err\n');
  asm.write('stdout', 'def\n');
  assert.deepEqual(shown(lines), ['stderr:err', 'stdout:abcdef']);
  assert.deepEqual(lines.map((l) => l.time), ['2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z'], 'stamped when completed, in order');
});

test('several lines in one chunk, lines across chunks, empty lines, and what is held at the end', () => {
  const { lines, asm } = collect();
  asm.write('stdout', 'one\ntwo\n\nthr');
  asm.write('stderr', Buffer.from('warn'));
  asm.write('stdout', 'ee\nfour');
  asm.write('info', 'Step done\n');
  asm.end();
  assert.deepEqual(shown(lines), ['stdout:one', 'stdout:two', 'stdout:', 'stdout:three', 'info:Step done', 'stdout:four', 'stderr:warn']);
  asm.end();
  assert.equal(lines.length, 7, 'nothing is held twice');
});

test('UTF-8 split between byte chunks stays whole; an endless line is cut at MAX_LINE_LENGTH', () => {
  const { lines, asm } = collect();
  const bytes = Buffer.from('ünïcode 🚀\n');
  for (const b of bytes) asm.write('stdout', Buffer.from([b]));
  assert.deepEqual(shown(lines), ['stdout:ünïcode 🚀']);
  asm.write('stderr', 'x'.repeat(MAX_LINE_LENGTH * 2 + 5));
  assert.deepEqual(lines.slice(1).map((l) => l.text.length), [MAX_LINE_LENGTH, MAX_LINE_LENGTH]);
  asm.end();
  assert.equal(lines.at(-1)!.text, 'xxxxx');
});

test('stored records: written and parsed back; an old log reads as lines of stream output', () => {
  const line: LogLine = { time: '2026-01-01T00:00:00.123Z', stream: 'stderr', text: 'debconf: delaying package configuration' };
  assert.equal(formatRecord(line), '2026-01-01T00:00:00.123Z stderr debconf: delaying package configuration\n');
  assert.deepEqual(parseRecord(formatRecord(line).slice(0, -1)), line);
  assert.deepEqual(parseRecord('not a record'), { stream: 'info', text: 'not a record' });
  assert.match(STAMPED_LOG_HEADER, /^#kiln-step-log v1.*\n$/);
  assert.deepEqual(legacyLines('a\nb\n'), [{ stream: 'output', text: 'a' }, { stream: 'output', text: 'b' }]);
  assert.deepEqual(legacyLines('a\nlast'), [{ stream: 'output', text: 'a' }, { stream: 'output', text: 'last' }]);
});
