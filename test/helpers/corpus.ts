import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One component document of the shared conformance corpus and what SOURCES.md says of it. */
export interface CorpusEntry {
  file: string;
  path: string;
  offline: string;
  validity: string;
  expectValid: boolean;
}

function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  throw new Error('package.json not found above the test helpers');
}

/** The shared conformance folder beside the checkout, or undefined when this machine does not have it. */
export function conformanceDir(): string | undefined {
  const dir = process.env.KILN_CONFORMANCE_DIR ?? join(repoRoot(), '..', 'shared', 'conformance');
  return existsSync(join(dir, 'SOURCES.md')) ? dir : undefined;
}

/** The component table of SOURCES.md: file name, Offline column and Validity column. */
export function componentCorpus(dir: string): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const line of readFileSync(join(dir, 'SOURCES.md'), 'utf8').split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cols = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const file = cols[0]!.replace(/`/g, '');
    const path = join(dir, 'components', file);
    if (!existsSync(path) || cols.length < 11) continue;
    const validity = cols[10]!;
    out.push({ file, path, offline: cols[9]!, validity, expectValid: !validity.startsWith('INVALID') });
  }
  return out;
}
