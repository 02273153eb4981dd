#!/usr/bin/env node
// Runs before `npm test` (the "pretest" script): makes sure every system tool the tests drive for real is
// installed (scripts/tools.mjs), installing what is missing with apt-get, and fetches the pinned helm
// (scripts/helm.mjs). A fresh Debian/Ubuntu machine then passes `npm test` alone.
//
// Exit 0 when everything is there (nothing is installed then); exit 1 with the exact command to run when
// something is missing and cannot be installed here (no apt-get, not root and no password-less sudo).
// PORTCULLIS_PROVISION=check only reports; it installs nothing and fails when something is missing.
import { spawnSync } from 'node:child_process';
import { ensureHelm, HELM } from './helm.mjs';
import { checkTool, TOOLS } from './tools.mjs';

const say = (m) => process.stderr.write(`provision: ${m}\n`);

function missing() {
  return TOOLS.map((t) => ({ t, r: checkTool(t.name) })).filter(({ r }) => r.problem);
}

function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** argv prefix that runs apt-get as root, or undefined when we cannot. */
function asRoot() {
  if (process.getuid?.() === 0) return [];
  if (has('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0) return ['sudo', '-n'];
  return undefined;
}

function run(argv, quiet = false) {
  if (!quiet) say(`$ ${argv.join(' ')}`);
  const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', quiet ? 'ignore' : 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

function main() {
  let need = missing();
  if (need.length > 0) {
    for (const { t, r } of need) say(`${t.name}: ${r.problem}${r.path ? ` (${r.path})` : ''} — needed by ${t.usedBy}`);
    const packages = [...new Set(need.map(({ t }) => t.apt))];
    const command = `apt-get update && apt-get install -y ${packages.join(' ')}`;
    const prefix = asRoot();
    if (process.env.PORTCULLIS_PROVISION === 'check') {
      say(`PORTCULLIS_PROVISION=check: not installing. Run: ${command}`);
      return 1;
    }
    if (!has('apt-get') || prefix === undefined) {
      say(`cannot install here (${has('apt-get') ? 'not root and no password-less sudo' : 'no apt-get'}). Install them, then run npm test again: ${command}`);
      return 1;
    }
    say(`installing ${packages.join(' ')} with apt-get`);
    if (!run([...prefix, 'apt-get', 'update', '-qq']) || !run([...prefix, 'apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...packages])) {
      say(`apt-get failed; run it yourself: ${command}`);
      return 1;
    }
    need = missing();
    if (need.length > 0) {
      for (const { t, r } of need) say(`${t.name} still unusable after installing ${t.apt}: ${r.problem}`);
      return 1;
    }
  }
  // gRPC C-core for the cross-implementation tests (test/integration/grpc-h2.test.ts): Python grpcio, from pip's
  // configured index (a local mirror on these machines).
  if (!run(['python3', '-c', 'import grpc, google.protobuf'], true)) {
    say('python grpcio missing: pip install grpcio protobuf');
    if (process.env.PORTCULLIS_PROVISION === 'check' || !run(['python3', '-m', 'pip', 'install', '-q', 'grpcio', 'protobuf'])) {
      say('cannot install grpcio; run it yourself: python3 -m pip install grpcio protobuf');
      return 1;
    }
  }
  try {
    ensureHelm();
  } catch (err) {
    say(`helm ${HELM.helmVersion}: ${err.message}`);
    return 1;
  }
  say(`ok: ${TOOLS.map((t) => t.name).join(', ')}, helm ${HELM.helmVersion}`);
  return 0;
}

process.exit(main());
