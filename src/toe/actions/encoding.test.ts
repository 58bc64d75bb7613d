import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENCODING_NAMES, decodeText, detectBom, encodeText, encodingOf, parseEncoding } from './encoding.js';

const hex = (b: Buffer) => b.toString('hex');

void test('every documented name parses, case-insensitively; others do not', () => {
  for (const name of ENCODING_NAMES) {
    assert.ok(parseEncoding(name), name);
    assert.ok(parseEncoding(name.toUpperCase()), name.toUpperCase());
  }
  for (const bad of ['latin1', 'utf-8-le', 'utf16le', 'utf-7', 'utf_16', '']) assert.equal(parseEncoding(bad), undefined, bad);
  assert.deepEqual(parseEncoding('UTF-16'), { name: 'utf-16', unit: 'utf16', endian: 'le', withBom: true });
  assert.deepEqual(parseEncoding('utf32-BE'), { name: 'utf-32-be', unit: 'utf32', endian: 'be', withBom: false });
});

void test('bytes written for each encoding: BOM only for utf-16 / utf-32 without endianness, little-endian by default', () => {
  const text = 'A€';
  assert.equal(hex(encodeText(text, encodingOf('utf8'))), '41e282ac');
  assert.equal(hex(encodeText(text, encodingOf('utf-16'))), 'fffe4100ac20');
  assert.equal(hex(encodeText(text, encodingOf('utf-16-le'))), '4100ac20');
  assert.equal(hex(encodeText(text, encodingOf('utf16-be'))), '004120ac');
  assert.equal(hex(encodeText(text, encodingOf('UTF-32'))), 'fffe000041000000ac200000');
  assert.equal(hex(encodeText(text, encodingOf('utf-32-le'))), '41000000ac200000');
  assert.equal(hex(encodeText(text, encodingOf('utf32-be'))), '00000041000020ac');
});

void test('astral characters become surrogate pairs in utf-16 and one unit in utf-32', () => {
  assert.equal(hex(encodeText('😀', encodingOf('utf-16-be'))), 'd83dde00');
  assert.equal(hex(encodeText('😀', encodingOf('utf-32-be'))), '0001f600');
});

void test('every encoding round-trips text with astral and non-ASCII characters', () => {
  const text = 'héllo wörld 😀 — \n\tend';
  for (const name of ENCODING_NAMES) {
    const enc = encodingOf(name);
    assert.equal(decodeText(encodeText(text, enc), enc), text, name);
    assert.equal(decodeText(encodeText(text, enc, { bom: true }), enc), text, `${name} with BOM`);
  }
});

void test('decoding utf-16 / utf-32 without endianness follows the BOM', () => {
  const be16 = encodeText('hi', encodingOf('utf-16-be'), { bom: true });
  assert.equal(hex(be16), 'feff00680069');
  assert.equal(decodeText(be16, encodingOf('utf-16')), 'hi');
  const be32 = encodeText('hi', encodingOf('utf-32-be'), { bom: true });
  assert.equal(decodeText(be32, encodingOf('utf-32')), 'hi');
  assert.equal(decodeText(Buffer.from('efbbbf6869', 'hex'), encodingOf('utf8')), 'hi');
});

void test('a UTF-16 LE BOM followed by U+0000 is not mistaken for a UTF-32 BOM when reading utf-16', () => {
  assert.equal(decodeText(Buffer.from('fffe00004100', 'hex'), encodingOf('utf-16')), '\0A');
  assert.equal(detectBom(Buffer.from('fffe0000', 'hex'))?.encoding.unit, 'utf32');
});

void test('malformed input decodes to U+FFFD instead of throwing', () => {
  assert.equal(decodeText(Buffer.from('410042', 'hex'), encodingOf('utf-16-le')), 'A\ufffd');
  assert.equal(decodeText(Buffer.from('00110000', 'hex'), encodingOf('utf-32-be')), '\ufffd');
  assert.equal(decodeText(Buffer.from('41000000ff', 'hex'), encodingOf('utf-32-le')), 'A\ufffd');
});
