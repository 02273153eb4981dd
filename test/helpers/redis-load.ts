// A Portcullis process under load for the Redis outage tests: a Block policy, one attacker blocked before the
// run, and 100 serialized sign-in Checks (the attacker first) for the open-loop generator.
import { authorizationDefinition } from '../../bench/lib/requests.ts';
import { AlsClient, alsEntry } from './als-client.ts';
import { envoyCheckRequest } from './envoy-request.ts';
import { AuthzClient } from './grpc-client.ts';
import { eventually, lbPolicyYaml } from './portcullis.ts';
import type { ProcessInstance } from './portcullis-process.ts';

export const OUTAGE_POLICY = lbPolicyYaml('Block');
export const ATTACKER = '198.18.66.6';

/** 100 serialized sign-in Checks: the attacker first, then 99 ordinary clients. */
export function outageMessages(): string[] {
  const def = authorizationDefinition()['Check']!;
  const clients = [ATTACKER, ...Array.from({ length: 99 }, (_, i) => `198.51.100.${i + 1}`)];
  return clients.map((c) => def.requestSerialize(envoyCheckRequest({
    peer: '10.0.0.5',
    body: `username=u${c}&password=x`,
    headers: { 'x-forwarded-for': c, 'content-type': 'application/x-www-form-urlencoded' },
  })).toString('base64'));
}

/** Ten failures in 10 s (outcomes not correlated to a Check, as a log line without request id): blocked HIGH. */
export async function blockAttacker(p: ProcessInstance): Promise<void> {
  const authz = new AuthzClient(p.grpcTarget);
  const als = new AlsClient(p.grpcTarget);
  try {
    als.send(Array.from({ length: 10 }, () => alsEntry({ status: 401, xff: ATTACKER })));
    await eventually(async () => (await authz.check(envoyCheckRequest({ peer: '10.0.0.5', headers: { 'x-forwarded-for': ATTACKER } }))).deniedResponse?.status?.code === 'Forbidden', 10_000);
  } finally {
    authz.close();
    als.close();
  }
}

