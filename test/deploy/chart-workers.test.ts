import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART, get, helm, render } from './helm.ts';

const portcullisEnv = (objects: ReturnType<typeof render>) => {
  const pod = (get(objects, 'Deployment', '-gateway').spec as { template: { spec: { containers: Array<{ name: string; env: Array<{ name: string; value?: string }> }> } } }).template.spec;
  return Object.fromEntries(pod.containers.find((c) => c.name === 'portcullis')!.env.filter((e) => 'value' in e).map((e) => [e.name, e.value]));
};

describe('chart: portcullis.workers', () => {
  it('is 1 unless set (each worker is a process of memory), and passes what is set', () => {
    expect(portcullisEnv(render(['-f', join(CHART, 'ci/gateway-values.yaml')])).PORTCULLIS_WORKERS).toBe('1');
    expect(portcullisEnv(render(['-f', join(CHART, 'ci/gateway-values.yaml'), '--set', 'portcullis.workers=2'])).PORTCULLIS_WORKERS).toBe('2');
  });

  it('refuses more than 1 with config.source=kubernetes, which runs in one process', () => {
    const r = helm(['template', 'demo', CHART, '-f', join(CHART, 'ci/kubernetes-values.yaml'), '--set', 'portcullis.workers=2']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('portcullis.workers above 1 needs config.source=file');
  });
});
