/**
 * Server-sent events (the `text/event-stream` format of the HTML standard): writing one event, and reading a
 * stream of them from a fetch response body. Only what Kiln's event stream uses: `id`, `event`, `data` (one or
 * more lines), `retry`, and `:` comments.
 */

/** One event as received. */
export interface SseEvent {
  id?: string;
  /** The `event:` field; `message` when the event had none. */
  event: string;
  data: string;
}

/** The wire text of one event; `data` may contain newlines (each line becomes a `data:` field). */
export function formatSseEvent(event: { id?: string | number; event?: string; data: string }): string {
  let text = '';
  if (event.id !== undefined) text += `id: ${String(event.id).replace(/[\r\n]/g, '')}\n`;
  if (event.event !== undefined) text += `event: ${event.event.replace(/[\r\n]/g, '')}\n`;
  for (const line of event.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/** A comment line (ignored by clients): keeps proxies and idle timers from closing a quiet stream. */
export function formatSseComment(text: string): string {
  return `: ${text.replace(/[\r\n]/g, ' ')}\n\n`;
}

/**
 * The events of a `text/event-stream` body, in order, until the stream ends (or the reader's signal aborts the
 * fetch). Comments and `retry:` are skipped; an event without data is not dispatched, as the standard says.
 */
export async function* readSseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let id: string | undefined;
  let type: string | undefined;
  let data: string[] = [];
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: RegExpExecArray | null;
      const lineEnd = /\r\n|\r|\n/g;
      let start = 0;
      // A lone \r at the very end may be the first half of \r\n: keep it for the next chunk.
      while ((newline = lineEnd.exec(buffer)) !== null && !(newline[0] === '\r' && newline.index === buffer.length - 1 && !done)) {
        const line = buffer.slice(start, newline.index);
        start = newline.index + newline[0].length;
        if (line === '') {
          if (data.length > 0) yield { ...(id === undefined ? {} : { id }), event: type ?? 'message', data: data.join('\n') };
          type = undefined;
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'data') data.push(value);
        else if (field === 'event') type = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
      }
      buffer = buffer.slice(start);
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => undefined);
  }
}
