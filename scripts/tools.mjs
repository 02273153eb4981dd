// The system tools the tests drive for real (never mocked), where to find them, and the Debian package that
// provides each. One table for scripts/provision.mjs (installs what is missing before `npm test`) and for the
// tests themselves (test/helpers/tools.ts: a test whose tool is missing fails and names the fix).
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * name: what the tests call; candidates: absolute paths tried before $PATH (Debian puts nginx and haproxy in
 * /usr/sbin, which is not on a normal user's PATH); apt: the Debian package; usedBy: the tests that need it;
 * probe: optional extra check of a found binary (returns a reason when it is not usable).
 */
export const TOOLS = [
  { name: 'redis-server', apt: 'redis-server', candidates: [], usedBy: 'test/store/redis-*, test/integration/redis-*' },
  { name: 'promtool', apt: 'prometheus', candidates: [], usedBy: 'test/deploy/monitoring.test.ts (alert rules)' },
  { name: 'prometheus', apt: 'prometheus', candidates: [], usedBy: 'test/deploy/monitoring.test.ts (dashboard queries)' },
  {
    name: 'nginx', apt: 'nginx', candidates: ['/usr/sbin/nginx'], usedBy: 'test/integration/nginx.test.ts, test/adapters/http/proxy-configs.test.ts',
    probe: (bin) => {
      const v = spawnSync(bin, ['-V'], { encoding: 'utf8' });
      return /http_auth_request_module/.test(v.stderr) && /http_realip_module/.test(v.stderr) ? undefined : 'built without auth_request or realip';
    },
  },
  { name: 'caddy', apt: 'caddy', candidates: ['/usr/bin/caddy'], usedBy: 'test/integration/caddy.test.ts' },
  { name: 'haproxy', apt: 'haproxy', candidates: ['/usr/sbin/haproxy'], usedBy: 'test/integration/haproxy.test.ts' },
  { name: 'kubectl', apt: 'kubernetes-client', candidates: [], usedBy: 'test/sources/kubernetes/crd.test.ts (client dry run)' },
  { name: 'chromium', apt: 'chromium', candidates: ['/usr/bin/chromium'], usedBy: 'test/integration/report-html.test.ts (simulate/replay --report)' },
  { name: 'h2load', apt: 'nghttp2-client', candidates: ['/usr/bin/h2load'], usedBy: 'npm run bench (bench/load-test.ts: the load generator), test/bench/bench-smoke.test.ts' },
  { name: 'wrk', apt: 'wrk', candidates: ['/usr/bin/wrk'], usedBy: 'npm run bench (bench/http-mode.ts)' },
];

function executable(p) {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Absolute path of a tool, or undefined. An environment override (e.g. NGINX_BIN) wins when set. */
export function findTool(name) {
  const tool = TOOLS.find((t) => t.name === name);
  if (!tool) throw new Error(`unknown tool ${name}`);
  const override = process.env[`${name.replace(/-/g, '_').toUpperCase()}_BIN`];
  if (override) return executable(override) ? override : undefined;
  for (const c of tool.candidates) if (executable(c)) return c;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/local/sbin']) if (executable(join(dir, name))) return join(dir, name);
  return undefined;
}

/** { path } when usable, { problem } otherwise (not installed, or installed without what the tests need). */
export function checkTool(name) {
  const tool = TOOLS.find((t) => t.name === name);
  const path = findTool(name);
  if (!path) return { problem: 'not installed' };
  const bad = tool.probe?.(path);
  return bad ? { path, problem: bad } : { path };
}
