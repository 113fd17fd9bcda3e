// Type-checked rules: the ones that catch what tsc does not, above all a promise nobody handles (a rejected
// `void job.finally(...)` is an unhandled rejection, which ends the supervisor and the agent's tree with it).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'benchmarks/results/**', '.cfn-supervise/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An async method that implements a promise-returning interface turns a throw into a rejection, which is
      // what its callers handle: it needs no await to be right.
      '@typescript-eslint/require-await': 'off',
      // A caught error is passed on as it was caught.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // A leading underscore is how a deliberately unused binding (a destructured field left out) is named.
      // A voided promise is still a rejection nobody handles: each one says how it ends.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    // The probe is CommonJS on purpose: it is preloaded with --require into processes that may be either kind.
    // Its primordials are taken unbound at preload and called through Reflect.apply with their receiver.
    files: ['src/probe/**/*.cts'],
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs', 'vitest.config.ts'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Tests read JSON from real processes and files: its `any` is checked by the assertions, not the types.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // Recorders hand out plain functions as callbacks.
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
