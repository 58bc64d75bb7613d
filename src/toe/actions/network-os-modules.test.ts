import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { validateInputs } from '../../../test/helpers/action-context.js';
import { isRecord } from './fields.js';
import { networkOsModules } from './network-os-modules.js';

/**
 * The shared conformance corpus sits beside the repository (in CI too: a copy of shared/ next to the clone).
 * It is searched upwards so the test finds it whether it runs from src/ or compiled from dist/.
 */
async function findCorpus(): Promise<string | undefined> {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    const candidate = join(dir, 'shared', 'conformance', 'components');
    if ((await stat(candidate).catch(() => undefined))?.isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** The one document of the corpus whose use of these modules AWS rejects. */
const EXPECTED_INVALID = 'cdkghr__issue964-s3download-empty-inputs.yaml';

interface StepUse {
  file: string;
  step: string;
  action: string;
  inputs: unknown;
}

async function stepsUsingModules(corpus: string, names: Set<string>): Promise<StepUse[]> {
  const files = (await readdir(corpus)).filter((f) => f.endsWith('.yaml')).sort();
  const uses: StepUse[] = [];
  for (const file of files) {
    let document: unknown;
    try {
      document = parse(await readFile(join(corpus, file), 'utf8'));
    } catch {
      continue; // a few corpus files are not valid YAML on purpose; the document parser's tests cover them
    }
    const phases = isRecord(document) && Array.isArray(document.phases) ? document.phases : [];
    for (const phase of phases) {
      const steps = isRecord(phase) && Array.isArray(phase.steps) ? phase.steps : [];
      for (const step of steps) {
        if (isRecord(step) && typeof step.action === 'string' && names.has(step.action)) {
          uses.push({ file, step: String(step.name), action: step.action, inputs: step.inputs });
        }
      }
    }
  }
  return uses;
}

describe('networkOsModules', () => {
  test('holds the eight modules under their AWSTOE names', () => {
    assert.deepEqual(networkOsModules.map((m) => m.name).sort(), [
      'ExecutePowerShell',
      'InstallMSI',
      'S3Download',
      'S3Upload',
      'SetRegistry',
      'UninstallMSI',
      'UpdateOS',
      'WebDownload',
    ]);
  });

  test('every step of the conformance corpus using them validates, except the known-invalid one', async (t) => {
    const byName = new Map(networkOsModules.map((m) => [m.name, m]));
    const corpus = await findCorpus();
    if (corpus === undefined) return t.skip('conformance corpus (shared/conformance/components) not found');
    const uses = await stepsUsingModules(corpus, new Set(byName.keys()));
    const seen = new Set<string>();
    for (const use of uses) {
      const module = byName.get(use.action);
      assert.ok(module);
      seen.add(use.action);
      const issues = validateInputs(module, use.inputs);
      const where = `${use.file} step ${use.step} (${use.action})`;
      if (use.file === EXPECTED_INVALID) {
        assert.deepEqual(issues.map((i) => i.path), ['inputs'], where);
        assert.match(issues[0]?.message ?? '', /S3Download has no inputs/, where);
      } else {
        assert.deepEqual(issues, [], where);
      }
    }
    // Guards against a vacuous pass: the corpus exercises every one of the eight modules.
    assert.deepEqual([...seen].sort(), [...byName.keys()].sort());
    assert.ok(uses.some((u) => u.file === EXPECTED_INVALID));
  });
});
