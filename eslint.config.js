// Lint runs in the test command; type-aware rules catch floating promises, which in a runner mean lost errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { APART, LAYERS } from './scripts/check-imports.mjs';

/**
 * Layers only point down (docs/adr/0004-layers-point-down.md): production code in a src/ folder may import its own
 * folder and lower layers, never a peer or a higher one. Tests may import anything; scripts/check-imports.mjs
 * applies the same order to the whole graph and looks for cycles.
 */
/** Test code, which may import anything: test files, and the conformance suites and fixtures in testsuite/ folders. */
const TEST_CODE = ['**/*.test.ts', '**/testsuite/**'];

function layerRules() {
  return LAYERS.flatMap((folders, i) =>
    folders.flatMap((folder) => {
      const forbidden = LAYERS.slice(i).flat().filter((f) => f !== folder);
      // The top layer has nothing above it to keep out.
      if (forbidden.length === 0) return [];
      const allowed = LAYERS.slice(0, i).flat();
      const message = `${folder}/ may import only ${allowed.length > 0 ? allowed.map((f) => `${f}/`).join(', ') : 'itself'} (layers point down; see docs/adr/0004-layers-point-down.md).`;
      return {
        files: [`src/${folder}/**/*.ts`],
        ignores: TEST_CODE,
        rules: { 'no-restricted-imports': ['error', { patterns: [{ group: forbidden.map((f) => `**/${f}/**`), message }] }] },
      };
    }),
  );
}

/**
 * Sub-folders kept apart inside a layer (APART). A later no-restricted-imports replaces the layer's rule for the same
 * files rather than adding to it, so each entry repeats its layer's patterns.
 */
function apartRules() {
  return APART.map(([from, to]) => {
    const folder = from.split('/')[0];
    const i = LAYERS.findIndex((folders) => folders.includes(folder));
    const forbidden = LAYERS.slice(i).flat().filter((f) => f !== folder);
    return {
      files: [`src/${from}/**/*.ts`],
      ignores: TEST_CODE,
      rules: {
        'no-restricted-imports': ['error', { patterns: [
          ...(forbidden.length > 0 ? [{ group: forbidden.map((f) => `**/${f}/**`), message: `${folder}/ imports only lower layers (docs/adr/0004-layers-point-down.md).` }] : []),
          { group: [`**/${to.split('/').pop()}/**`], message: `src/${from}/ may not import src/${to}/ (docs/adr/0005-api-and-store-split.md).` },
        ] }],
      },
    };
  });
}

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // node:test collects the promise that test() returns; awaiting it at top level would serialise registration.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  // toe/ (the AWSTOE runner) stays usable on its own: it sits in the second layer, so it may import domain/ and
  // logs/ only, which keeps the old rule's api/, service/, store/ and builder/ out and adds the rest.
  ...layerRules(),
  ...apartRules(),
);
