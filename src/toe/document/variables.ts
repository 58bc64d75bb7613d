/**
 * `{{ … }}` references in AWSTOE documents: finding, classifying and substituting them. Substitution is textual:
 * only a complete `{{ … }}` on one line with no braces inside is a reference, so bash's `${…}`, Go templates
 * split over lines and an unterminated `{{` stay as written.
 */

const REFERENCE = /\{\{([^{}\n]*)\}\}/g;
const NAME = /^[A-Za-z0-9_-]+$/;
const LOOP_REF = /^([A-Za-z0-9_-]+)\.(index|value)$/;
const CHAIN_REF = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.(inputs|outputs)(?:\[(\d+)\])?(?:\.([A-Za-z0-9_-]+))?$/;

export type Reference =
  | { kind: 'name'; text: string; name: string }
  | { kind: 'loop'; text: string; loop: string; field: 'index' | 'value' }
  | {
      kind: 'chain';
      text: string;
      phase: string;
      step: string;
      section: 'inputs' | 'outputs';
      index: number | undefined;
      field: string | undefined;
    }
  | { kind: 'invalid'; text: string };

export function classify(inner: string): Reference {
  const text = inner.trim();
  let m: RegExpExecArray | null;
  if (NAME.test(text)) return { kind: 'name', text, name: text };
  if ((m = LOOP_REF.exec(text))) return { kind: 'loop', text, loop: m[1]!, field: m[2] as 'index' | 'value' };
  if ((m = CHAIN_REF.exec(text))) {
    return {
      kind: 'chain',
      text,
      phase: m[1]!,
      step: m[2]!,
      section: m[3] as 'inputs' | 'outputs',
      index: m[4] === undefined ? undefined : Number(m[4]),
      field: m[5],
    };
  }
  return { kind: 'invalid', text };
}

/** Every reference in a string, in order. */
export function referencesIn(text: string): Reference[] {
  return [...text.matchAll(REFERENCE)].map((m) => classify(m[1]!));
}

/** Every string inside a value (map values and list items, recursively), with its path. */
export function* stringsIn(value: unknown, path: string): Generator<[string, string]> {
  if (typeof value === 'string') yield [value, path];
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* stringsIn(value[i], `${path}[${i}]`);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) yield* stringsIn(v, `${path}.${k}`);
  }
}

/** Resolves one reference to its text, or undefined to leave it as written. */
export type Resolver = (ref: Reference) => string | undefined;

export function substituteString(text: string, resolve: Resolver): string {
  if (!text.includes('{{')) return text;
  return text.replace(REFERENCE, (whole, inner: string) => resolve(classify(inner)) ?? whole);
}

/** Substitutes in every string of a value, returning a new value; non-strings are kept. */
export function substitute<T>(value: T, resolve: Resolver): T {
  if (typeof value === 'string') return substituteString(value, resolve) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => substitute(v, resolve)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, resolve);
    return out as T;
  }
  return value;
}
