// Lint runs in the test command; type-aware rules catch floating promises, which in a runner mean lost errors.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'web/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Domain code must not depend on I/O layers; see docs/architecture.md.
      'no-restricted-imports': 'off',
    },
  },
  {
    // node:test collects the promise that test() returns; awaiting it at top level would serialise registration.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  {
    files: ['src/toe/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/api/**', '**/service/**', '**/store/**', '**/build/**'], message: 'toe/ may import only domain/ and shared helpers.' }] }],
    },
  },
);
