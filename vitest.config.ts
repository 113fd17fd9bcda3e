import { defineConfig } from 'vitest/config';

// Three tiers: `unit` (pure, seconds: `npm run test:unit` is the quick loop), `integration` (real processes,
// sockets, inspectors) and `slow` (soaks, large snapshots, the memlab comparison). `npm test` runs all three on
// Node 24 and the integration tier on 20, 22 and 26 (scripts/test-nodes.sh, each through scripts/test-on-node.sh).
const shared = {
  setupFiles: ['test/helpers/setup.ts'],
  // Tests spawn real agents and inspectors; two cores cannot take many files at once.
  maxWorkers: 2,
  testTimeout: 60_000,
  hookTimeout: 30_000,
};

export default defineConfig({
  // The probe's modules are CommonJS TypeScript (.cts), which vite does not transform by default.
  oxc: { include: /\.(m?ts|cts|[jt]sx)$/ },
  test: {
    projects: [
      { extends: true, test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { ...shared, name: 'integration', include: ['test/**/*.test.ts'], exclude: ['test/unit/**', 'test/**/*.slow.test.ts'] } },
      { extends: true, test: { ...shared, name: 'slow', include: ['test/**/*.slow.test.ts'], testTimeout: 600_000 } },
    ],
  },
});
