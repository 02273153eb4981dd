import { checkTool, TOOLS } from '../../scripts/tools.mjs';

/**
 * Path of a system tool a test drives for real. Missing, it throws at collection time, so the test file fails
 * and says which tool and how to get it: a test that cannot run never passes by skipping. `npm test` installs
 * every tool first (scripts/provision.mjs).
 */
export function requireTool(name: string): string {
  const r = checkTool(name);
  if (r.path && !r.problem) return r.path;
  const tool = TOOLS.find((t) => t.name === name)!;
  throw new Error(`${name} is required by ${tool.usedBy} but is ${r.problem}${r.path ? ` (${r.path})` : ''}. `
    + `Run \`node scripts/provision.mjs\` (npm test does it first) or \`apt-get install ${tool.apt}\`.`);
}
