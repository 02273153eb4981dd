// One copy, shared with the traffic simulator.
export { envoyCheckRequest, type EnvoyRequestInit } from '../../src/simulate/envoy-request.ts';
