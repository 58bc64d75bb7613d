/**
 * How a step's log is stored: a header line naming the format, then one record per line of output,
 *
 *   #kiln-step-log v1: time stream text
 *   2026-12-06T08:31:48.123Z stdout Setting up publicsuffix (20230209.2300-1) ...
 *   2026-12-06T08:31:48.125Z stderr debconf: delaying package configuration, since apt-utils is not installed
 *
 * readable with `less` and `grep`, and parsed back by the log route. A log without the header was written
 * before streams were kept: plain output, stdout and stderr merged; it is read as lines of stream `output`.
 */
import type { LogLine, LogStream } from './line-assembler.js';

/** The first line of a log stored in this format. */
export const STAMPED_LOG_HEADER = '#kiln-step-log v1: time stream text\n';

/** A stored line's stream: a LogStream, or `output` for a line of a log written before streams were kept. */
export type StoredStream = LogStream | 'output';

/** A line read back from a stored log; `time` is absent for a line of an old log. */
export interface StoredLine {
  time?: string;
  stream: StoredStream;
  text: string;
}

/** One line as its stored record, newline included. */
export function formatRecord(line: LogLine): string {
  return `${line.time} ${line.stream} ${line.text}\n`;
}

const RECORD = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) (stdout|stderr|info) (.*)$/s;

/** A record (without its newline) as a line; one that does not parse is kept whole as an info line. */
export function parseRecord(record: string): StoredLine {
  const m = RECORD.exec(record);
  return m ? { time: m[1]!, stream: m[2] as LogStream, text: m[3]! } : { stream: 'info', text: record };
}

/** The lines of a slice of an old, unstamped log (whole lines; a last piece without newline counts as one). */
export function legacyLines(text: string): StoredLine[] {
  const pieces = text.split('\n');
  if (pieces[pieces.length - 1] === '') pieces.pop();
  return pieces.map((t) => ({ stream: 'output', text: t }));
}
