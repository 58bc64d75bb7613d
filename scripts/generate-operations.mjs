#!/usr/bin/env node
// Writes src/api/aws/generated/operations.ts from the schemas that ship inside the installed
// @aws-sdk/client-imagebuilder, so that Kiln's wire layer is exactly the SDK's (LocalStack's approach).
// The SDK's schemas are the smithy "static schema" arrays: [9, ns, name, traits, input, output] for
// operations, [3, ...] structures, [-3, ...] errors, [1, ...] lists, [2, ...] maps, numbers for simple types.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const PACKAGE = '@aws-sdk/client-imagebuilder';

/** Repository-relative path of the generated table. */
export const OUTPUT_PATH = 'src/api/aws/generated/operations.ts';

const SIMPLE = new Map([
  [0, 'string'],
  [1, 'number'],
  [2, 'boolean'],
  [4, 'timestamp'],
  [5, 'timestamp'],
  [6, 'timestamp'],
  [7, 'timestamp'],
  [15, 'document'],
  [17, 'bigInteger'],
  [19, 'bigDecimal'],
  [21, 'blob'],
  [42, 'blob'],
]);

// Bit order of smithy's numeric member-trait indicator (@smithy/core/schema translateTraits).
const TRAIT_BITS = ['httpLabel', 'idempotent', 'idempotencyToken', 'sensitive', 'httpPayload', 'httpResponseCode', 'httpQueryParams'];

function traitsOf(indicator) {
  if (typeof indicator === 'object' && indicator !== null) return indicator;
  const traits = {};
  TRAIT_BITS.forEach((name, i) => {
    if (((indicator >> i) & 1) === 1) traits[name] = true;
  });
  return traits;
}

function loadSchemas() {
  const entry = require.resolve(PACKAGE);
  const dir = path.dirname(entry);
  const schemas = require(path.join(dir, 'schemas', 'schemas_0.js'));
  const pkgJson = JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8'));
  return { schemas, version: pkgJson.version };
}

function deref(s) {
  return typeof s === 'function' ? s() : s;
}

/** Builds the plain-data model: operations, structures and errors, sorted for a stable output. */
export function buildModel() {
  const { schemas, version } = loadSchemas();
  const structures = new Map();

  function typeRef(raw) {
    const s = deref(raw);
    if (typeof s === 'number') {
      if (s & 64) return { list: typeRef(s & ~64) };
      if (s & 128) return { map: typeRef(s & ~128) };
      const simple = SIMPLE.get(s);
      if (!simple) throw new Error(`unknown simple schema ${s}`);
      return simple;
    }
    if (!Array.isArray(s)) throw new Error(`unexpected schema ${String(s)}`);
    switch (s[0]) {
      case 1:
        return { list: typeRef(s[4]) };
      case 2:
        return { map: typeRef(s[5]) };
      case 3:
      case -3:
        addStructure(s);
        return { structure: s[2] };
      default:
        throw new Error(`unexpected schema kind ${s[0]} (${s[2]})`);
    }
  }

  function addStructure(s) {
    const name = s[2];
    if (structures.has(name)) return;
    const def = { members: [], required: [] };
    structures.set(name, def);
    const names = s[4];
    const types = s[5];
    const requiredCount = typeof s[6] === 'number' ? s[6] : 0;
    names.forEach((member, i) => {
      const raw = types[i];
      // A member is either a bare schema reference or a [schema, traits] pair.
      const [schema, indicator] = Array.isArray(raw) && raw.length === 2 ? raw : [raw, 0];
      const traits = traitsOf(indicator);
      const m = { name: member, type: typeRef(schema), location: 'body' };
      if (traits.httpLabel) m.location = 'label';
      else if (traits.httpQuery) Object.assign(m, { location: 'query', locationName: traits.httpQuery });
      else if (traits.httpHeader) Object.assign(m, { location: 'header', locationName: traits.httpHeader.toLowerCase() });
      if (traits.idempotencyToken) m.idempotencyToken = true;
      def.members.push(m);
      if (i < requiredCount) def.required.push(member);
    });
  }

  const operations = [];
  const errors = [];
  for (const value of Object.values(schemas)) {
    if (!Array.isArray(value)) continue;
    if (value[0] === 9) {
      const [method, uri, status] = value[3].http;
      const input = deref(value[4]);
      const output = deref(value[5]);
      addStructure(input);
      addStructure(output);
      operations.push({ name: value[2], method, path: uri, status, input: input[2], output: output[2] });
    } else if (value[0] === -3 && value[1] === 'com.amazonaws.imagebuilder') {
      addStructure(value);
      errors.push({ name: value[2], status: value[3].httpError, fault: value[3].error });
    }
  }
  operations.sort((a, b) => a.name.localeCompare(b.name));
  errors.sort((a, b) => a.name.localeCompare(b.name));
  const sortedStructures = [...structures.entries()].sort(([a], [b]) => a.localeCompare(b));
  return { version, operations, errors, structures: sortedStructures };
}

function literal(value) {
  return JSON.stringify(value);
}

/** Returns the TypeScript source of the operation table. */
export function generateOperationsSource() {
  const model = buildModel();
  const lines = [
    `// generated — do not edit. Source: ${PACKAGE}@${model.version} schemas, by scripts/generate-operations.mjs.`,
    '// Regenerate with `node scripts/generate-operations.mjs` after upgrading the SDK.',
    "import type { ErrorDef, OperationDef, StructureDef } from '../operation-types.js';",
    '',
    `export const SDK_VERSION = '${model.version}';`,
    '',
    'export const OPERATIONS: readonly OperationDef[] = [',
    ...model.operations.map((op) => `  ${literal(op)},`),
    '];',
    '',
    'export const ERRORS: readonly ErrorDef[] = [',
    ...model.errors.map((e) => `  ${literal(e)},`),
    '];',
    '',
    'export const STRUCTURES: Readonly<Record<string, StructureDef>> = {',
    ...model.structures.map(([name, def]) => `  ${name}: ${literal(def)},`),
    '};',
    '',
  ];
  return lines.join('\n');
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const out = path.join(root, OUTPUT_PATH);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, generateOperationsSource());
  console.log(`wrote ${OUTPUT_PATH}`);
}
