import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
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
