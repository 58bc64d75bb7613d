import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import type { LogLine } from '../../logs/line-assembler.js';

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** `TOE_<YYYY-MM-DD_HH-MM-SS>_UTC-0_<executionId>`, the folder name awstoe uses. */
export function logFolderName(executionId: string, at: Date): string {
  const d = `${at.getUTCFullYear()}-${pad(at.getUTCMonth() + 1)}-${pad(at.getUTCDate())}`;
  const t = `${pad(at.getUTCHours())}-${pad(at.getUTCMinutes())}-${pad(at.getUTCSeconds())}`;
  return `TOE_${d}_${t}_UTC-0_${executionId}`;
}

/**
 * The AWSTOE log folder of one run: application.log (debug, info and every output line, stamped with time and
 * stream), console.log (info and output lines as a terminal shows them), and the JSON results.
 */
export class LogFolder {
  private constructor(
    readonly path: string,
    private readonly application: WriteStream,
    private readonly console: WriteStream,
  ) {}

  static async create(root: string, executionId: string, at: Date): Promise<LogFolder> {
    const path = join(root, logFolderName(executionId, at));
    await mkdir(path, { recursive: true });
    const application = createWriteStream(join(path, 'application.log'), { flags: 'a' });
    const console = createWriteStream(join(path, 'console.log'), { flags: 'a' });
    return new LogFolder(path, application, console);
  }

  debug(message: string): void {
    this.application.write(`${new Date().toISOString()} DEBUG ${message}\n`);
  }

  info(message: string): void {
    this.application.write(`${new Date().toISOString()} INFO ${message}\n`);
    this.console.write(`${message}\n`);
  }

  /** A whole line of a step's output (see LineAssembler). */
  output(line: LogLine): void {
    this.application.write(`${line.time} ${line.stream.toUpperCase()} ${line.text}\n`);
    this.console.write(`${line.text}\n`);
  }

  writeJson(name: string, value: unknown): Promise<void> {
    return writeFile(join(this.path, name), `${JSON.stringify(value, null, 2)}\n`);
  }

  writeText(name: string, text: string): Promise<void> {
    return writeFile(join(this.path, name), text);
  }

  async close(): Promise<void> {
    this.application.end();
    this.console.end();
    await Promise.all([finished(this.application), finished(this.console)]);
  }
}
