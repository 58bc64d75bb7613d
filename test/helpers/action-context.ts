import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { Issue } from '../../src/domain/errors.js';
import { applyShape, coerceInputs } from '../../src/toe/actions/fields.js';
import type { ActionContext, ActionModule, ActionResult } from '../../src/toe/actions/types.js';
import { LocalInstance } from '../../src/toe/instance/local.js';

/** A scratch directory removed when the test ends. */
export async function scratchDir(t: TestContext, prefix = 'kiln-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A context on the local instance that records what the module logged. */
export function makeContext(workDir: string, overrides: Partial<ActionContext> = {}): ActionContext & { output: string[] } {
  const output: string[] = [];
  return {
    instance: new LocalInstance(),
    signal: new AbortController().signal,
    log: {
      debug: (m) => output.push(`debug: ${m}`),
      info: (m) => output.push(m),
      stdout: (c) => output.push(String(c)),
      stderr: (c) => output.push(String(c)),
    },
    timeoutMs: undefined,
    workDir,
    scratchDir: workDir,
    stepName: 'TestStep',
    phaseName: 'build',
    ...overrides,
    output,
  };
}

/** Validation issues of inputs as written in a document (before substitution). */
export function validateInputs(module: ActionModule, inputs: unknown): Issue[] {
  const issues: Issue[] = [];
  applyShape(module, inputs, 'inputs', true, issues);
  issues.push(...(module.validate?.(inputs, 'inputs') ?? []));
  return issues;
}

/** Coerces raw inputs the way the runner does, then runs the module. */
export function runAction(module: ActionModule, inputs: unknown, context: ActionContext): Promise<ActionResult> {
  return module.run(coerceInputs(module, inputs, 'inputs'), context);
}
