import { defineConfig } from 'vitest/config';

// Three projects so that CI can run them in stages: unit tests are pure and fast; integration tests run
// the real `go` against the real helper; e2e tests run the bundled dist/ through the runner harness.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['__tests__/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['**/*.itg.test.ts', '**/*.e2e.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['__tests__/**/*.itg.test.ts', 'test/**/*.itg.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['__tests__/**/*.e2e.test.ts', 'test/**/*.e2e.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
