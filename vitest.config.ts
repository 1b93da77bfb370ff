import { defineConfig } from 'vitest/config';

// Tests talk to real servers over real sockets; some start PostgreSQL, slapd or pebble.
// Files run in parallel across 2 workers (the CI machine has 2 cores); each test picks free ports.
export default defineConfig({
  test: {
    include: ['server/test/**/*.test.ts', 'installer/test/**/*.test.{ts,tsx}', 'appliance/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    reporters: ['default'],
  },
});
