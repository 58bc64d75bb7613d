import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { once } from 'node:events';
import { decodeStream, streamTail, utf8Chunks } from './utf8-chunks.js';

test('a character split across two chunks comes out whole, with the chunk that completes it', () => {
  const pieces: string[] = [];
  const chunks = utf8Chunks((text) => pieces.push(text));
  const emoji = Buffer.from('😀', 'utf8');
  chunks.write(Buffer.concat([Buffer.from('a'), emoji.subarray(0, 2)]));
  chunks.write(emoji.subarray(2, 3));
  chunks.write(Buffer.concat([emoji.subarray(3), Buffer.from('b')]));
  chunks.end();
  assert.deepEqual(pieces, ['a', '😀b']);
});

test('bytes of an incomplete character at the end come out as one replacement character', () => {
  const pieces: string[] = [];
  const chunks = utf8Chunks((text) => pieces.push(text));
  chunks.write(Buffer.concat([Buffer.from('x'), Buffer.from('€', 'utf8').subarray(0, 2)]));
  chunks.end();
  assert.deepEqual(pieces, ['x', '\uFFFD']);
});

test('a stream is decoded to its end; its tail keeps the last characters whole', async () => {
  const stream = new PassThrough();
  let text = '';
  decodeStream(stream, (piece) => (text += piece));
  const tail = streamTail(stream, 4);
  const euro = Buffer.from('€', 'utf8');
  stream.write(Buffer.concat([Buffer.from('cost 12'), euro.subarray(0, 1)]));
  stream.write(euro.subarray(1));
  stream.end();
  await once(stream, 'end');
  assert.equal(text, 'cost 12€');
  assert.equal(tail(), ' 12€');
});
