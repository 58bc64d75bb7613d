/**
 * A streaming reader of tar headers only: it sees every entry's name, type and link target while the bytes
 * flow on to GNU tar, which does the extracting (several times faster than extracting in JavaScript). Names
 * are resolved as GNU tar resolves them: ustar prefix, GNU long names (`L`/`K`) and PAX `path`/`linkpath`/
 * `size` records. Bodies are skipped, never buffered.
 */
import { KilnError } from '../../domain/errors.js';

/** One archive entry as GNU tar will extract it. */
export interface ScannedEntry {
  /** The name as stored (not normalised). */
  name: string;
  /** The ustar type flag: `0` file, `1` hard link, `2` symlink, `3` char, `4` block, `5` dir, `6` fifo… */
  type: string;
  /** Target of a symlink or hard link; empty for other types. */
  linkname: string;
}

const BLOCK = 512;
/** Entry types that are extracted as something; the others are metadata for the next entry. */
const ENTRY_TYPES = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', '7', 'S']);
/** A PAX or GNU long-name body larger than this is not a header anyone writes. */
const MAX_META_BODY = 1 << 20;

function cString(buf: Buffer, start: number, length: number): string {
  const field = buf.subarray(start, start + length);
  const nul = field.indexOf(0);
  return (nul === -1 ? field : field.subarray(0, nul)).toString('utf8');
}

function parseNumber(buf: Buffer, start: number, length: number, what: string): number {
  const field = buf.subarray(start, start + length);
  // GNU base-256: the high bit of the first byte set; big-endian binary in the rest.
  if ((field[0]! & 0x80) !== 0) {
    if ((field[0]! & 0x40) !== 0) throw new KilnError('InvalidArgument', `negative ${what} in a tar header`);
    let value = field[0]! & 0x3f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    if (!Number.isSafeInteger(value)) throw new KilnError('InvalidArgument', `${what} in a tar header is too large`);
    return value;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/, '').replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new KilnError('InvalidArgument', `bad ${what} ${JSON.stringify(text)} in a tar header`);
  return parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let stored: number;
  try {
    stored = parseNumber(header, 148, 8, 'checksum');
  } catch {
    return false;
  }
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : header[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** PAX records `<len> <key>=<value>\n`; values are kept as raw bytes decoded as UTF-8 text. */
function parsePax(body: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break;
    const space = body.indexOf(0x20, pos);
    const len = space === -1 ? NaN : Number(body.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw new KilnError('InvalidArgument', 'malformed PAX record in a tar header');
    }
    const record = body.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq === -1) throw new KilnError('InvalidArgument', 'malformed PAX record in a tar header');
    records.set(record.toString('utf8', 0, eq), record.toString('utf8', eq + 1));
    pos += len;
  }
  return records;
}

/** What the next bytes are: a header, an entry body to skip, a metadata body to read (padded), or the end. */
type State = { kind: 'header' } | { kind: 'skip'; left: number } | { kind: 'meta'; type: string; size: number; padded: number; parts: Buffer[]; got: number } | { kind: 'end' };

/**
 * Feeds on an uncompressed tar stream chunk by chunk and calls `onEntry` for each entry, in archive order.
 * push() and end() throw InvalidArgument on a malformed or truncated archive (and whatever onEntry throws).
 */
export class TarScanner {
  private state: State = { kind: 'header' };
  private pending: Buffer = Buffer.alloc(0);
  private pax = new Map<string, string>();
  private longName: string | undefined;
  private longLink: string | undefined;
  private entries = 0;

  constructor(private readonly onEntry: (entry: ScannedEntry) => void) {}

  /** True once the end-of-archive block was read: bytes after it are not part of the archive. */
  get done(): boolean {
    return this.state.kind === 'end';
  }

  push(chunk: Buffer): void {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (data.length > 0) {
      const state = this.state;
      if (state.kind === 'end') return;
      if (state.kind === 'skip') {
        const n = Math.min(state.left, data.length);
        state.left -= n;
        data = data.subarray(n);
        if (state.left === 0) this.state = { kind: 'header' };
        continue;
      }
      if (state.kind === 'meta') {
        const n = Math.min(state.padded - state.got, data.length);
        state.parts.push(Buffer.from(data.subarray(0, n)));
        state.got += n;
        data = data.subarray(n);
        if (state.got === state.padded) this.finishMeta(state);
        continue;
      }
      if (data.length < BLOCK) {
        this.pending = Buffer.from(data);
        return;
      }
      this.header(data.subarray(0, BLOCK));
      data = data.subarray(BLOCK);
    }
  }

  /**
   * Call after the last chunk: a tar that stops inside an entry, or holds no bytes at all, is refused. (An
   * archive of zero blocks only is valid: Docker's empty layer.)
   */
  end(): void {
    const s = this.state;
    if (this.pending.length > 0 || s.kind === 'skip' || s.kind === 'meta') throw new KilnError('InvalidArgument', 'the tar archive is truncated');
    if (s.kind === 'header' && this.entries === 0) throw new KilnError('InvalidArgument', 'the layer is empty (not even an end-of-archive block)');
  }

  private header(block: Buffer): void {
    if (block.every((b) => b === 0)) {
      // The first zero block ends the archive (GNU tar stops there too); what follows is padding.
      this.state = { kind: 'end' };
      return;
    }
    if (!checksumOk(block)) throw new KilnError('InvalidArgument', `not a tar archive (bad header checksum after ${this.entries} entries)`);
    const type = String.fromCharCode(block[156]!);
    const size = this.pax.has('size') ? Number(this.pax.get('size')) : parseNumber(block, 124, 12, 'size');
    if (!Number.isSafeInteger(size) || size < 0) throw new KilnError('InvalidArgument', 'bad size in a tar header');
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      if (size > MAX_META_BODY) throw new KilnError('InvalidArgument', `a tar ${type} header of ${size} bytes is too large`);
      const meta: State = { kind: 'meta', type, size, padded, parts: [], got: 0 };
      if (padded === 0) this.finishMeta(meta);
      else this.state = meta;
      return;
    }
    if (!ENTRY_TYPES.has(type)) throw new KilnError('InvalidArgument', `tar entry type ${JSON.stringify(type)} is not supported in a layer`);
    const ustar = block.toString('latin1', 257, 263) === 'ustar\0';
    const prefix = ustar ? cString(block, 345, 155) : '';
    const rawName = cString(block, 0, 100);
    const name = this.pax.get('path') ?? this.longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
    const linkname = this.pax.get('linkpath') ?? this.longLink ?? cString(block, 157, 100);
    this.pax = new Map();
    this.longName = undefined;
    this.longLink = undefined;
    this.entries++;
    this.onEntry({ name, type: type === '\0' || type === '7' ? '0' : type, linkname: type === '1' || type === '2' ? linkname : '' });
    // Hard links, devices, dirs and fifos have no body even when a size is given (GNU tar skips nothing then).
    const hasBody = type === '0' || type === '\0' || type === '7' || type === 'S';
    this.state = hasBody && padded > 0 ? { kind: 'skip', left: padded } : { kind: 'header' };
  }

  private finishMeta(state: Extract<State, { kind: 'meta' }>): void {
    const body = Buffer.concat(state.parts).subarray(0, state.size);
    this.state = { kind: 'header' };
    if (state.type === 'x') {
      for (const [k, v] of parsePax(body)) this.pax.set(k, v);
    } else if (state.type === 'g') {
      const global = parsePax(body);
      // GNU tar applies a global path to what follows; no layer writer does that, so it is not followed here.
      if (global.has('path') || global.has('linkpath')) throw new KilnError('InvalidArgument', 'a global PAX header that sets path or linkpath is not supported');
    } else {
      const nul = body.indexOf(0);
      const text = (nul === -1 ? body : body.subarray(0, nul)).toString('utf8');
      if (state.type === 'L') this.longName = text;
      else this.longLink = text;
    }
  }
}
