import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSseComment, formatSseEvent, readSseEvents, type SseEvent } from './sse.js';

/** A body delivering `text` in the given chunk sizes (cutting through lines, \r\n pairs and multi-byte characters). */
function body(text: string, chunk: number): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of readSseEvents(stream)) out.push(e);
  return out;
}

test('events written by formatSseEvent read back the same, whatever the chunking', async () => {
  const text =
    'retry: 2000\n\n' +
    formatSseEvent({ id: 7, event: 'image-state', data: '{"status":"BUILDING","reason":"ünïcode 🚀"}' }) +
    formatSseComment('keep-alive') +
    formatSseEvent({ id: 8, event: 'image-state', data: 'two\nlines' }) +
    formatSseEvent({ data: 'plain' });
  const expected: SseEvent[] = [
    { id: '7', event: 'image-state', data: '{"status":"BUILDING","reason":"ünïcode 🚀"}' },
    { id: '8', event: 'image-state', data: 'two\nlines' },
    // The last id carries over, as the standard says.
    { id: '8', event: 'message', data: 'plain' },
  ];
  for (const chunk of [1, 2, 3, 7, 1000]) assert.deepEqual(await all(body(text, chunk)), expected, `chunks of ${chunk}`);
});

test('CRLF and CR line ends, fields without a space, and events without data', async () => {
  const text = 'event:a\r\ndata:1\r\n\r\nevent: empty\r\n\r\ndata: 2\rdata: 3\r\r';
  for (const chunk of [1, 4, 100]) {
    assert.deepEqual(await all(body(text, chunk)), [
      { event: 'a', data: '1' },
      { event: 'message', data: '2\n3' },
    ]);
  }
});

test('newlines in an event type or id cannot inject fields', () => {
  assert.equal(formatSseEvent({ id: '1\ndata: x', event: 'a\nb', data: 'd' }), 'id: 1data: x\nevent: ab\ndata: d\n\n');
});
