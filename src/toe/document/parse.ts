import { LineCounter, parseDocument } from 'yaml';
import type { Issue } from '../../domain/errors.js';

/** Larger documents are refused before parsing, so a runaway file cannot exhaust memory. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Parses YAML or JSON document text. Duplicate keys are errors (as in AWSTOE); alias expansion is bounded so
 * that a "billion laughs" document fails fast. Returns the plain value or the issues, with line and column.
 */
export function parseYaml(text: string): { value?: unknown; issues: Issue[] } {
  if (Buffer.byteLength(text, 'utf8') > MAX_DOCUMENT_BYTES) {
    return { issues: [{ path: '', message: `document is larger than ${MAX_DOCUMENT_BYTES} bytes` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter, strict: true });
  if (doc.errors.length > 0) {
    return {
      issues: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { path: `line ${pos.line}, column ${pos.col}`, message: `YAML syntax error: ${firstLine(e.message)}` };
      }),
    };
  }
  try {
    return { value: doc.toJS({ maxAliasCount: 1000 }), issues: [] };
  } catch (err) {
    return { issues: [{ path: '', message: `YAML error: ${(err as Error).message}` }] };
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}
