/** Made-up rpm databases for tests: header blobs in the format rpmdb stores them. */

/** An rpm header blob as rpmdb stores it, with the tags given (strings as STRING, the epoch as INT32). */
export function rpmHeaderBlob(p: { name: string; version: string; release: string; arch?: string; epoch?: number; sourcerpm?: string }): Buffer {
  const entries: [number, number, Buffer][] = [];
  const str = (tag: number, v: string | undefined): void => {
    if (v !== undefined) entries.push([tag, 6, Buffer.from(`${v}\0`)]);
  };
  // An immutable-region tag first, as real headers have, which the reader must skip.
  entries.push([63, 7, Buffer.alloc(16)]);
  str(1000, p.name);
  str(1001, p.version);
  str(1002, p.release);
  if (p.epoch !== undefined) {
    const b = Buffer.alloc(4);
    b.writeInt32BE(p.epoch);
    entries.push([1003, 4, b]);
  }
  str(1022, p.arch);
  str(1044, p.sourcerpm);
  const index = Buffer.alloc(entries.length * 16);
  const data: Buffer[] = [];
  let offset = 0;
  entries.forEach(([tag, type, value], i) => {
    index.writeInt32BE(tag, i * 16);
    index.writeInt32BE(type, i * 16 + 4);
    index.writeInt32BE(offset, i * 16 + 8);
    index.writeInt32BE(1, i * 16 + 12);
    data.push(value);
    offset += value.length;
  });
  const preamble = Buffer.alloc(8);
  preamble.writeInt32BE(entries.length, 0);
  preamble.writeInt32BE(offset, 4);
  return Buffer.concat([preamble, index, ...data]);
}
