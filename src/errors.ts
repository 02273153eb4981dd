/**
 * Errors with stable codes. The code is what operators grep for and what metrics use as a label, so the set is
 * closed: add a code here (and to docs/errors.md) rather than inventing one at the throw site.
 */
export const ERROR_CODES = {
  CONFIG_PARSE: 'a config file is not valid YAML',
  CONFIG_SCHEMA: 'a config object does not match the schema',
  CONFIG_REFERENCE: 'a config object refers to something that does not exist',
  CONFIG_DUPLICATE: 'two config objects have the same kind and name',
  CONFIG_IO: 'a config path cannot be read',
  CONFIG_POLICY_REMOVED: 'a reload would remove the ThreatPolicy in force; refused, the last good config keeps serving',
  CONFIG_CONFLICT: 'config objects claim what only one may have (a second ThreatPolicy)',
  REQUEST_MALFORMED: 'a check request lacks what is needed to decide',
  INTERNAL: 'an unexpected failure while deciding',
  USAGE: 'the command line is wrong',
  LISTEN: 'a listener cannot bind its address (in use, or not allowed)',
  UNSAFE_LISTEN: 'a listener would be reachable beyond loopback without the credential it needs',
  EVENTS_OUTPUT: 'the --events file cannot be opened for appending',
  KUBECONFIG: 'the kubeconfig cannot be read or names no cluster',
  WORKER_START: 'a --workers process exited before it was serving (its own error is logged before this one)',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class PortcullisError extends Error {
  override readonly name = 'PortcullisError';
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function errorCodeOf(err: unknown): ErrorCode {
  return err instanceof PortcullisError ? err.code : 'INTERNAL';
}
