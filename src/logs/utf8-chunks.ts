/**
 * Turns a process's output, which arrives as byte chunks cut anywhere, into text. Decoding each chunk on its
 * own breaks a UTF-8 character whose bytes land in two chunks into two replacement characters; these keep one
 * decoder per stream, so the character comes out whole with the chunk that completes it. Used wherever Kiln
 * reads a child's or an instance's output as text (progress, error tails).
 */
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** One stream's decoder. Interleaving two streams through one decoder would mix their partial characters. */
export interface Utf8Chunks {
  /** Decodes a chunk; the bytes of a character not yet complete are held for the next chunk. */
  write(chunk: Buffer): void;
  /** The stream ended: what is still held comes out (an incomplete character as U+FFFD). */
  end(): void;
}

/** A decoder for one stream of chunks handed over by callbacks; `onText` gets each non-empty piece of text. */
export function utf8Chunks(onText: (text: string) => void): Utf8Chunks {
  const decoder = new StringDecoder('utf8');
  const emit = (text: string) => {
    if (text !== '') onText(text);
  };
  return {
    write: (chunk) => emit(decoder.write(chunk)),
    end: () => emit(decoder.end()),
  };
}

/** Reads a byte stream as text: `onText` gets each piece as it arrives, and what is held when the stream ends. */
export function decodeStream(stream: Readable, onText: (text: string) => void): void {
  const chunks = utf8Chunks(onText);
  stream.on('data', (chunk: Buffer) => chunks.write(chunk));
  stream.once('end', () => chunks.end());
}

/** Keeps the last `max` characters a byte stream wrote, for error messages; call the result to read them. */
export function streamTail(stream: Readable, max: number): () => string {
  let text = '';
  decodeStream(stream, (piece) => {
    text = (text + piece).slice(-max);
  });
  return () => text;
}
