/**
 * Validation of SBOM documents against their official JSON schemas: SPDX 2.3 (kept in test/schemas/, see its
 * README) and CycloneDX 1.5 (shipped by @cyclonedx/cyclonedx-library), with ajv and its formats.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const require = createRequire(import.meta.url);
// ajv-formats is CommonJS; its default export arrives as the module object under NodeNext.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function repoRoot(): string {
  // dist/test/helpers/ → the checkout.
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

let spdx: ValidateFunction | undefined;
let cyclonedx: ValidateFunction | undefined;

function errorsOf(validate: ValidateFunction, doc: unknown): string[] {
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The schema violations of an SPDX 2.3 JSON document; empty when it is valid. */
export function spdxSchemaErrors(doc: unknown): string[] {
  if (!spdx) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    spdx = ajv.compile(readJson(join(repoRoot(), 'test', 'schemas', 'spdx-2.3.schema.json')));
  }
  return errorsOf(spdx, doc);
}

/** The schema violations of a CycloneDX 1.5 JSON document; empty when it is valid. */
export function cyclonedxSchemaErrors(doc: unknown): string[] {
  if (!cyclonedx) {
    const dir = join(dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    // ajv-formats has no internationalised formats; Kiln writes none of those fields, so any string passes.
    ajv.addFormat('iri-reference', true);
    ajv.addFormat('idn-email', true);
    // The bom schema refers to its companions by their SNAPSHOT file names, relative to its own $id.
    for (const [file, id] of [
      ['spdx.SNAPSHOT.schema.json', 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json'],
      ['jsf-0.82.SNAPSHOT.schema.json', 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json'],
    ] as const) {
      ajv.addSchema({ ...readJson(join(dir, file)), $id: id });
    }
    cyclonedx = ajv.compile(readJson(join(dir, 'bom-1.5.SNAPSHOT.schema.json')));
  }
  return errorsOf(cyclonedx, doc);
}
