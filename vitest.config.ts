import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs in seconds with nothing but Node; `integration` drives real servers and tools
// (Redis, nginx, Caddy, HAProxy, Prometheus, Helm, kubectl, Chromium, the CLI as a subprocess). `npm test`
// runs both, after scripts/provision.mjs has installed the tools; `npx vitest run --project unit` runs one.
export const INTEGRATION = [
  'test/integration/**/*.test.ts',
  'test/deploy/**/*.test.ts',
  'test/store/redis-*.test.ts',
  'test/cli/**/*.test.ts',
  'test/simulate/simulate.test.ts',
  'test/gen/**/*.test.ts',
  'test/bench/**/*.test.ts',
  'test/adapters/http/proxy-configs.test.ts',
  // A fake API server over real HTTP, leader election on real timers, kubectl.
  'test/sources/kubernetes/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: INTEGRATION } },
      { extends: true, test: { name: 'integration', include: INTEGRATION } },
    ],
  },
});
