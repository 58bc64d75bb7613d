/**
 * Deterministic PAX tar headers. tar-stream's packer writes PAX records as UTF-8 strings, which corrupts
 * binary xattr values such as `security.capability`, and it cannot emit a PAX header with a body of our
 * choosing; so headers are encoded here (the format is small) and tar-stream is used to read archives.
 * Equal headers always give equal bytes: no uname/gname, no atime/ctime, PAX keys in sorted order.
 */

export type TarEntryType = 'file' | 'link' | 'symlink' | 'char' | 'block' | 'directory' | 'fifo';

export interface TarHeader {
  /** Path inside the archive, relative, without a leading `./` or `/`; directories without a trailing slash. */
  name: string;
  type: TarEntryType;
  /** Permission bits, including setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Content length; 0 for everything but regular files. */
  size: number;
  /** Whole seconds since the epoch. */
  mtime: number;
  /** Target of a symlink, or the archive path of the first name of a hardlink. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes as raw bytes, written as `SCHILY.xattr.<name>` PAX records. */
  xattrs?: ReadonlyMap<string, Buffer>;
}

const TYPEFLAG: Record<TarEntryType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', directory: '5', fifo: '6' };
const BLOCK = 512;
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

/** Zero bytes that pad a body of `size` bytes to a whole block. */
export function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

function isAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s);
}

/** Splits a long ASCII path into ustar's prefix (155) and name (100) fields, or undefined when impossible. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (prefix.length > 155) return undefined;
    if (rest.length <= 100 && rest.length > 0) return { prefix, name: rest };
  }
  return undefined;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  // The length prefix counts itself, so find the fixed point.
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len), 'ascii'), body]);
}

function writeString(buf: Buffer, offset: number, width: number, value: string): void {
  buf.write(value.slice(0, width), offset, width, 'utf8');
}

function writeOctal(buf: Buffer, offset: number, width: number, value: number): void {
  // Fields hold width-1 octal digits and a NUL; larger values go into PAX records instead.
  const max = 8 ** (width - 1) - 1;
  const digits = Math.min(value, max).toString(8).padStart(width - 1, '0');
  buf.write(digits + '\0', offset, width, 'ascii');
}

function ustarBlock(h: { name: string; prefix: string; type: string; mode: number; uid: number; gid: number; size: number; mtime: number; linkname: string; devmajor: number; devminor: number }): Buffer {
  const buf = Buffer.alloc(BLOCK);
  writeString(buf, 0, 100, h.name);
  writeOctal(buf, 100, 8, h.mode);
  writeOctal(buf, 108, 8, h.uid);
  writeOctal(buf, 116, 8, h.gid);
  writeOctal(buf, 124, 12, h.size);
  writeOctal(buf, 136, 12, h.mtime);
  buf.write('        ', 148, 8, 'ascii');
  buf.write(h.type, 156, 1, 'ascii');
  writeString(buf, 157, 100, h.linkname);
  buf.write('ustar\x0000', 257, 8, 'ascii');
  writeOctal(buf, 329, 8, h.devmajor);
  writeOctal(buf, 337, 8, h.devminor);
  writeString(buf, 345, 155, h.prefix);
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return buf;
}

/**
 * The header block(s) of one entry: a PAX extended header first when the entry needs one (long or non-ASCII
 * names, large ids or sizes, xattrs), then the ustar block. The body and its padding follow, written by the
 * caller.
 */
export function encodeHeader(header: TarHeader): Buffer {
  const name = header.type === 'directory' ? `${header.name}/` : header.name;
  const linkname = header.linkname ?? '';
  const pax = new Map<string, Buffer>();
  const split = isAscii(name) ? splitUstar(name) : undefined;
  if (!split) pax.set('path', Buffer.from(name, 'utf8'));
  if (!isAscii(linkname) || linkname.length > 100) pax.set('linkpath', Buffer.from(linkname, 'utf8'));
  if (header.uid > MAX_OCTAL_7) pax.set('uid', Buffer.from(String(header.uid)));
  if (header.gid > MAX_OCTAL_7) pax.set('gid', Buffer.from(String(header.gid)));
  if (header.size > MAX_OCTAL_11) pax.set('size', Buffer.from(String(header.size)));
  for (const [key, value] of header.xattrs ?? []) pax.set(`SCHILY.xattr.${key}`, value);

  const common = {
    type: TYPEFLAG[header.type],
    mode: header.mode & 0o7777,
    uid: header.uid,
    gid: header.gid,
    size: header.size,
    mtime: header.mtime,
    devmajor: header.devmajor ?? 0,
    devminor: header.devminor ?? 0,
  };
  const main = ustarBlock({
    ...common,
    name: split?.name ?? asciiFallback(name, 100),
    prefix: split?.prefix ?? '',
    linkname: pax.has('linkpath') ? asciiFallback(linkname, 100) : linkname,
  });
  if (pax.size === 0) return main;

  const keys = [...pax.keys()].sort();
  const body = Buffer.concat(keys.map((k) => paxRecord(k, pax.get(k)!)));
  const paxHeader = ustarBlock({ ...common, type: 'x', name: asciiFallback(`PaxHeaders/${lastComponent(name)}`, 100), prefix: '', size: body.length, linkname: '', devmajor: 0, devminor: 0 });
  return Buffer.concat([paxHeader, body, padding(body.length), main]);
}

function lastComponent(name: string): string {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** A stand-in for the ustar field when the real value is in a PAX record: readers that know PAX ignore it. */
function asciiFallback(value: string, width: number): string {
  return value.replace(/[^\x20-\x7e]/g, '_').slice(0, width);
}
