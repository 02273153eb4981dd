// One copy, shared with the traffic simulator.
export { AuthzClient, headerValue } from '../../src/simulate/authz-client.ts';
