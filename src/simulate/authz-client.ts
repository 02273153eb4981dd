import { credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadEnvoyProtos } from '../adapters/grpc/protos.ts';
import type { CheckRequest } from '../gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../gen/envoy/service/auth/v3/CheckResponse.ts';

type Ctor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => Client & {
  Check(req: CheckRequest, cb: (err: ServiceError | null, res: CheckResponse__Output) => void): void;
};

/** A real grpc-js client of envoy.service.auth.v3.Authorization, as Envoy's gRPC client would call it. */
export class AuthzClient {
  readonly #client: InstanceType<Ctor>;

  constructor(target: string) {
    const protos = loadEnvoyProtos() as unknown as { envoy: { service: { auth: { v3: { Authorization: Ctor } } } } };
    this.#client = new protos.envoy.service.auth.v3.Authorization(target, credentials.createInsecure());
  }

  check(req: CheckRequest): Promise<CheckResponse__Output> {
    return new Promise((resolve, reject) => this.#client.Check(req, (err, res) => (err ? reject(err) : resolve(res))));
  }

  close(): void {
    this.#client.close();
  }
}

export function headerValue(res: CheckResponse__Output, name: string): string | undefined {
  const list = res.okResponse?.headers ?? res.deniedResponse?.headers ?? [];
  return list.find((h) => h.header?.key === name)?.header?.value;
}
