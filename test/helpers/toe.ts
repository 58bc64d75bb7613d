import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { actionModules } from '../../src/toe/actions/registry.js';
import { LocalInstance } from '../../src/toe/instance/local.js';
import { runDocuments, type RunOptions, type RunResult } from '../../src/toe/runner/run.js';
import type { DetailedOutput, StepOutput } from '../../src/toe/runner/results.js';
import { scratchDir } from './action-context.js';

/** Runs document text on the local instance with a scratch log folder; returns the result and the live output. */
export async function runText(
  t: TestContext,
  text: string,
  options: Partial<RunOptions> = {},
): Promise<RunResult & { output: string; dir: string }> {
  const dir = await scratchDir(t);
  let output = '';
  const result = await runDocuments({
    documents: [{ path: join(dir, 'doc.yaml'), text, parameters: {} }],
    logDirectory: dir,
    instance: new LocalInstance(),
    modules: actionModules(),
    workingDirectory: dir,
    onOutput: (s) => (output += s),
    ...options,
  });
  return { ...result, output, dir };
}

/** All steps of a run, keyed `phase.step`. */
export function stepsOf(detailed: DetailedOutput): Record<string, StepOutput> {
  const out: Record<string, StepOutput> = {};
  for (const d of detailed.documents) for (const p of d.phases) for (const s of p.steps) out[`${p.name}.${s.name}`] = s;
  return out;
}

export async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}
