import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureNode, NODES, type NodePin } from '../../scripts/node.mjs';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { listeningPorts } from '../helpers/portcullis-process.ts';

// Which Node Portcullis needs, said in five places that must agree: package.json engines (running it) and
// devEngines (developing and testing it), the image (deploy/Dockerfile), what CI runs on (.ci/run), and the
// README. The pinned builds in scripts/node.mjs are the versions each claim is checked on, with the real tools:
// npm judges the lockfile's engines on each floor, and the CLI runs on the runtime floor and on the image's Node.
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const version = (pin: NodePin) => NODES[pin].version;
const parts = (v: string) => v.replace(/^v/, '').split('.').map(Number);
const atLeast = (v: string, floor: string) => {
  const [a, b] = [parts(v), parts(floor)];
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  return true;
};
/** Our own ranges are one lower bound (">=20.18"): the test insists on that form, so it can read them. */
const floorOf = (range: string) => {
  const m = /^>=(\d+\.\d+(?:\.\d+)?)$/.exec(range);
  expect(m, `range ${range} is ">=X.Y[.Z]"`).not.toBeNull();
  return m![1]!;
};

describe('the Node version claims agree', () => {
  const runtimeFloor = floorOf(pkg.engines.node);
  const devFloor = floorOf(pkg.devEngines.runtime.version);

  it('engines and devEngines name the floors scripts/node.mjs pins, and the image is above both', () => {
    expect(pkg.devEngines.runtime.name).toBe('node');
    expect(parts(version('floor')).slice(0, 2)).toEqual(parts(runtimeFloor).slice(0, 2));
    expect(parts(version('devFloor')).slice(0, 2)).toEqual(parts(devFloor).slice(0, 2));
    expect(atLeast(devFloor, runtimeFloor), 'the toolchain floor is not below the runtime floor').toBe(true);
    expect(atLeast(version('image'), devFloor)).toBe(true);
  });

  it('the image runs exactly the pinned image Node, an even (LTS) major', () => {
    const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');
    const m = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-bookworm-slim$/m.exec(dockerfile);
    expect(m, 'deploy/Dockerfile pins NODE_IMAGE to a full version').not.toBeNull();
    expect(m![1]).toBe(version('image'));
    expect(parts(version('image'))[0]! % 2).toBe(0);
  });

  it('CI runs npm ci and npm test on the image Node, and says so', () => {
    const ci = readFileSync('.ci/run', 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    const fetch = ci.findIndex((l) => l.includes('node scripts/node.mjs path image'));
    const path = ci.findIndex((l) => /^export PATH="\$\(dirname "\$NODE_BIN"\):\$PATH"$/.test(l));
    expect(fetch, '.ci/run fetches the image Node').toBeGreaterThanOrEqual(0);
    expect(path, '.ci/run puts it first on PATH').toBeGreaterThan(fetch);
    expect(ci.findIndex((l) => l.startsWith('npm ci'))).toBeGreaterThan(path);
    // Under CI this very process is that Node; elsewhere any Node the runtime supports may run the tests.
    if (process.env.CI === 'true') expect(process.version).toBe(`v${version('image')}`);
    else expect(atLeast(process.version, runtimeFloor)).toBe(true);
  });

  it('the README states the same floors and the CI Node', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(readme).toContain(`Node.js ≥ ${devFloor} to develop and test; running Portcullis needs only Node.js ≥ ${runtimeFloor}`);
    expect(readme).toContain(`\`engines\` in \`package.json\` (≥ ${runtimeFloor})`);
    expect(readme).toContain(`\`devEngines\` (≥ ${devFloor})`);
    expect(readme).toContain(`runs everything on that same Node ${version('image')}`);
    expect(readme).toContain(`\`npm test\`, on Node ${version('image')}`);
  });
});

describe('npm judges the lockfile on each Node (npm ci --dry-run --engine-strict, offline)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-engines-'));
  copyFileSync('package.json', join(dir, 'package.json'));
  copyFileSync('package-lock.json', join(dir, 'package-lock.json'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** npm (this machine's) run by the given Node binary, in a folder with only package.json and the lockfile. */
  function npmCi(pin: NodePin, extra: string[] = []) {
    const bin = ensureNode(pin);
    return spawnSync('npm', ['ci', '--dry-run', '--engine-strict', '--ignore-scripts', '--no-audit', '--no-fund', ...extra], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, PATH: `${dirname(bin)}:${process.env.PATH}`, npm_config_update_notifier: 'false' },
    });
  }

  it('the runtime dependencies install on the runtime floor', () => {
    const r = npmCi('floor', ['--omit=dev']);
    expect(r.stderr).not.toMatch(/EBADENGINE|notsup/);
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);

  it('the dev toolchain does not: that is why devEngines is higher', () => {
    const r = npmCi('floor');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/notsup Not compatible with your version of node/);
  }, 60_000);

  it.each(['devFloor', 'image'] as const)('everything installs on %s', (pin) => {
    const r = npmCi(pin);
    expect(r.stderr).not.toMatch(/EBADENGINE|EBADDEVENGINES|notsup/);
    expect(r.status, r.stderr).toBe(0);
  }, 60_000);
});

describe.each(['floor', 'image'] as const)('the CLI on the %s Node', (pin) => {
  const bin = ensureNode(pin);

  it(`check-config and explain answer (node ${version(pin)})`, () => {
    expect(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()).toBe(`v${version(pin)}`);
    const check = spawnSync(bin, ['bin/portcullis.js', 'check-config', 'deploy/examples'], { encoding: 'utf8' });
    expect(check.stdout).toMatch(/^valid$/m);
    expect(check.status, check.stderr).toBe(0);
    const explain = spawnSync(bin, ['bin/portcullis.js', 'explain', '--config', 'deploy/examples', '--peer', '10.0.4.2', '--xff', '192.0.2.10, 10.0.7.1', '--json'], { encoding: 'utf8' });
    expect(explain.status, explain.stderr).toBe(0);
    expect(JSON.parse(explain.stdout)).toMatchObject({ client: '192.0.2.10' });
  }, 90_000);

  it(`serve answers a Check, /readyz and drains on SIGTERM (node ${version(pin)})`, async () => {
    const proc = spawn(bin, ['bin/portcullis.js', 'serve', '--config', 'deploy/examples', '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--drain-seconds', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const ports = await listeningPorts(proc);
      expect((await fetch(`http://127.0.0.1:${ports.httpPort}/readyz`)).status).toBe(200);
      const client = new AuthzClient(`127.0.0.1:${ports.grpcPort}`);
      try {
        const blocked = await client.check(envoyCheckRequest({ peer: '10.0.4.2', headers: { 'x-forwarded-for': '192.0.2.10' } }));
        expect(blocked.status?.code, 'a Blocklist zone member is denied').toBe(7);
      } finally {
        client.close();
      }
      const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
      proc.kill('SIGTERM');
      expect(await exit).toBe(0);
    } finally {
      proc.kill('SIGKILL');
    }
  }, 120_000);
});
