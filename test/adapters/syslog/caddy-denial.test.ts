import { describe, expect, it } from 'vitest';
import { accessLineToOutcome } from '../../../src/adapters/syslog/access-line.ts';

// Caddy 2.6 logs no request id of its own; its line for a request Portcullis refused carries Portcullis' own
// x-portcullis-status response header (forward_auth passes the denial through), and must not read as a sign-in.
const line = (resp: Record<string, string[]>) => JSON.stringify({
  request: { remote_ip: '10.0.0.5', method: 'POST', host: 'app.example.com', uri: '/login', headers: { 'X-Forwarded-For': ['192.0.2.44'] } },
  status: 403,
  resp_headers: resp,
});

describe('Caddy access-log lines', () => {
  it('an app 403 is a sign-in response (method and path kept)', () => {
    expect(accessLineToOutcome(line({ Server: ['Caddy'] }))).toMatchObject({ method: 'POST', path: '/login', status: 403, clientIp: '10.0.0.5', forwardedFor: '192.0.2.44' });
  });
  it('Portcullis\' own denial is reported without method and path, so the ingest ignores it', () => {
    expect(accessLineToOutcome(line({ 'X-Portcullis-Status': ['403'], 'X-Portcullis-Decision-Id': ['e1'] }))).toMatchObject({ method: '', path: '', status: 403 });
  });
});
