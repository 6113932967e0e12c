import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file in its own process: a native crash fails one file loudly
    // instead of taking the runner down, and the memory test gets a clean heap.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
