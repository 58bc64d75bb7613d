/**
 * The text encodings AWSTOE's file modules accept (CreateFile, AppendFile, ReadFile, SetFileEncoding).
 *
 * The docs say utf-16 and utf-32 without an endianness are little-endian and are silent on byte order marks.
 * Kiln follows the convention of Python's codecs and iconv: the endianness-free names write a BOM (so a reader
 * can tell the byte order), the explicit -le/-be names and utf8 write none. Decoding strips a matching BOM, and
 * for the endianness-free names a BOM decides the byte order.
 */

/** Accepted names, compared case-insensitively (the AWS user guide lists exactly these). */
export const ENCODING_NAMES = [
  'utf8',
  'utf-8',
  'utf16',
  'utf-16',
  'utf16-le',
  'utf-16-le',
  'utf16-be',
  'utf-16-be',
  'utf32',
  'utf-32',
  'utf32-le',
  'utf-32-le',
  'utf32-be',
  'utf-32-be',
] as const;

export interface TextEncoding {
  /** Canonical name, e.g. "utf-16-le". */
  readonly name: string;
  readonly unit: 'utf8' | 'utf16' | 'utf32';
  readonly endian: 'le' | 'be';
  /** True for utf-16 / utf-32 written without an endianness: a BOM is written and honoured when read. */
  readonly withBom: boolean;
}

const UTF8: TextEncoding = { name: 'utf-8', unit: 'utf8', endian: 'le', withBom: false };

/** Parses an encoding name as AWSTOE spells it; undefined when it is not one of ENCODING_NAMES. */
export function parseEncoding(name: string): TextEncoding | undefined {
  const m = /^utf-?(8|16|32)(?:-(le|be))?$/.exec(name.trim().toLowerCase());
  if (!m) return undefined;
  const unit = `utf${m[1]}` as TextEncoding['unit'];
  if (unit === 'utf8') return m[2] === undefined ? UTF8 : undefined;
  const endian = (m[2] ?? 'le') as 'le' | 'be';
  const size = unit === 'utf16' ? '16' : '32';
  return {
    name: m[2] === undefined ? `utf-${size}` : `utf-${size}-${endian}`,
    unit,
    endian,
    withBom: m[2] === undefined,
  };
}

/** Like parseEncoding, but throws for an unknown name (inputs are validated before modules run). */
export function encodingOf(name: unknown): TextEncoding {
  const enc = parseEncoding(typeof name === 'string' ? name : 'utf8');
  if (!enc) throw new TypeError(`unsupported encoding ${JSON.stringify(name)}`);
  return enc;
}

const BOMS: { bytes: number[]; encoding: TextEncoding }[] = [
  // UTF-32 LE first: its BOM starts with the UTF-16 LE one.
  { bytes: [0xff, 0xfe, 0x00, 0x00], encoding: { name: 'utf-32', unit: 'utf32', endian: 'le', withBom: true } },
  { bytes: [0x00, 0x00, 0xfe, 0xff], encoding: { name: 'utf-32-be', unit: 'utf32', endian: 'be', withBom: true } },
  { bytes: [0xef, 0xbb, 0xbf], encoding: UTF8 },
  { bytes: [0xff, 0xfe], encoding: { name: 'utf-16', unit: 'utf16', endian: 'le', withBom: true } },
  { bytes: [0xfe, 0xff], encoding: { name: 'utf-16-be', unit: 'utf16', endian: 'be', withBom: true } },
];

/** The encoding announced by a byte order mark at the start of data, and the BOM's length. */
export function detectBom(data: Buffer): { encoding: TextEncoding; length: number } | undefined {
  for (const { bytes, encoding } of BOMS) {
    if (data.length >= bytes.length && bytes.every((b, i) => data[i] === b)) return { encoding, length: bytes.length };
  }
  return undefined;
}

function bomOf(enc: TextEncoding): Buffer {
  const found = BOMS.find((b) => b.encoding.unit === enc.unit && b.encoding.endian === enc.endian);
  return Buffer.from(found?.bytes ?? []);
}

/** Encodes text; `bom` defaults to the encoding's own rule (see the module comment). */
export function encodeText(text: string, enc: TextEncoding, options: { bom?: boolean } = {}): Buffer {
  const bom = options.bom ?? enc.withBom;
  let body: Buffer;
  switch (enc.unit) {
    case 'utf8':
      body = Buffer.from(text, 'utf8');
      break;
    case 'utf16':
      // toWellFormed-like: lone surrogates would produce bytes no decoder accepts.
      body = Buffer.from(text.replace(/\p{Cs}/gu, '\ufffd'), 'utf16le');
      if (enc.endian === 'be') body.swap16();
      break;
    case 'utf32': {
      const points = Array.from(text, (ch) => {
        const cp = ch.codePointAt(0) ?? 0xfffd;
        return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
      });
      body = Buffer.alloc(points.length * 4);
      points.forEach((cp, i) => (enc.endian === 'le' ? body.writeUInt32LE(cp, i * 4) : body.writeUInt32BE(cp, i * 4)));
      break;
    }
  }
  return bom ? Buffer.concat([bomOf(enc), body]) : body;
}

/**
 * Decodes data written in `enc`. A BOM of the same unit is stripped; for the endianness-free names it also
 * sets the byte order. Malformed sequences become U+FFFD rather than failing, as text editors do.
 */
export function decodeText(data: Buffer, enc: TextEncoding): string {
  let endian = enc.endian;
  // Looked up per unit: FF FE 00 00 is a UTF-32 LE BOM, or a UTF-16 LE BOM followed by U+0000.
  const bom = BOMS.find(
    (b) =>
      b.encoding.unit === enc.unit &&
      (enc.withBom || b.encoding.endian === enc.endian) &&
      data.length >= b.bytes.length &&
      b.bytes.every((byte, i) => data[i] === byte),
  );
  if (bom) {
    endian = bom.encoding.endian;
    data = data.subarray(bom.bytes.length);
  }
  switch (enc.unit) {
    case 'utf8':
      return data.toString('utf8');
    case 'utf16': {
      const even = Buffer.from(data.subarray(0, data.length - (data.length % 2)));
      if (endian === 'be') even.swap16();
      return even.toString('utf16le') + (data.length % 2 ? '\ufffd' : '');
    }
    case 'utf32': {
      let out = '';
      const whole = data.length - (data.length % 4);
      for (let i = 0; i < whole; i += 4) {
        const cp = endian === 'le' ? data.readUInt32LE(i) : data.readUInt32BE(i);
        out += cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? '\ufffd' : String.fromCodePoint(cp);
      }
      return whole < data.length ? `${out}\ufffd` : out;
    }
  }
}
