/**
 * Turns the output of a process (stdout and stderr arriving in chunks of any size) into whole lines, each
 * stamped with its stream and the time it was completed. A chunk without a newline is held until its line
 * ends, so a write to stderr never lands inside a line of stdout; what is held when the step ends comes out
 * as a last line. Used by every writer of step output: the build's step logs, `kiln toe run` and its log
 * folder.
 */
import { StringDecoder } from 'node:string_decoder';

/** Where a line came from: the process's stdout or stderr, or Kiln's own messages about the step. */
export type LogStream = 'stdout' | 'stderr' | 'info';

/** One whole line (no newline) of a step's output. */
export interface LogLine {
  /** When the line was completed (ISO 8601, UTC, milliseconds). */
  time: string;
  stream: LogStream;
  text: string;
}

/**
 * Output as it arrives: a chunk of text and the stream it came from (info when not said). The callbacks that
 * carry a step's output take this shape, so the stream survives from the process to the log.
 */
export type OutputSink = (text: string, stream?: LogStream) => void;

/**
 * A line longer than this (in UTF-16 units) is cut into pieces of this length: output that never ends its
 * line (a progress bar, binary data) must not grow without bound in memory, and a stored line stays readable
 * in one slice of the log route.
 */
export const MAX_LINE_LENGTH = 16 * 1024;

/** Assembles the lines of one step's streams; `emit` gets each line as soon as it is whole. */
export class LineAssembler {
  private readonly held = new Map<LogStream, { decoder: StringDecoder; text: string }>();

  constructor(
    private readonly emit: (line: LogLine) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Adds a chunk of one stream; bytes are decoded as UTF-8, a character split between chunks is kept whole. */
  write(stream: LogStream, chunk: string | Buffer): void {
    let held = this.held.get(stream);
    if (!held) {
      held = { decoder: new StringDecoder('utf8'), text: '' };
      this.held.set(stream, held);
    }
    let text = held.text + (typeof chunk === 'string' ? chunk : held.decoder.write(chunk));
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n')) {
      this.line(stream, text.slice(0, nl));
      text = text.slice(nl + 1);
    }
    while (text.length > MAX_LINE_LENGTH) {
      // Not between the halves of a surrogate pair.
      const cut = /[\uD800-\uDBFF]/.test(text[MAX_LINE_LENGTH - 1]!) ? MAX_LINE_LENGTH - 1 : MAX_LINE_LENGTH;
      this.line(stream, text.slice(0, cut));
      text = text.slice(cut);
    }
    held.text = text;
  }

  /** Emits what each stream still holds as its last line (the step ended); the assembler can be used again. */
  end(): void {
    for (const [stream, held] of this.held) {
      const text = held.text + held.decoder.end();
      held.text = '';
      if (text !== '') this.line(stream, text);
    }
  }

  private line(stream: LogStream, text: string): void {
    this.emit({ time: this.now().toISOString(), stream, text });
  }
}
