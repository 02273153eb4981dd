// One copy, shared with the traffic simulator.
export { AlsClient, alsEntry } from '../../src/simulate/als-client.ts';
