import { describe, expect, it } from 'vitest';
import { accessLineToOutcome } from '../../../src/adapters/syslog/access-line.ts';
import { syslogPayload } from '../../../src/adapters/syslog/message.ts';

// The documented nginx log_format (docs/proxies.md) as nginx 1.22 writes it for a failed POST /login.
const NGINX_JSON = '{"request_id":"8f0c2c1d6e0b4a7b9c3d2e1f00112233","peer":"10.0.1.5","xff":"198.51.100.7","method":"POST","uri":"/login?next=%2F","host":"app.example.com","status":401,"result":""}';

describe('syslog message framing of the payload', () => {
  it('RFC 3164 as nginx sends it (access_log syslog:)', () => {
    expect(syslogPayload(`<190>Jan  7 10:00:00 web-1 nginx: ${NGINX_JSON}`)).toBe(NGINX_JSON);
    // No hostname (nginx with nohostname), ISO timestamp (rsyslog templates).
    expect(syslogPayload(`<190>Jan  7 10:00:00 nginx: ${NGINX_JSON}`)).toBe(NGINX_JSON);
    expect(syslogPayload(`<134>2026-01-07T10:00:00+00:00 web-1 haproxy[12]: ${NGINX_JSON}`)).toBe(NGINX_JSON);
  });

  it('RFC 5424 with and without structured data, and with a BOM', () => {
    expect(syslogPayload(`<134>1 2026-01-07T10:00:00.000Z web-1 haproxy 12 - - ${NGINX_JSON}`)).toBe(NGINX_JSON);
    expect(syslogPayload(`<134>1 2026-01-07T10:00:00Z h app - ID47 [ex@32473 iut="3" note="a \\"q\\" and \\] here"][b@1 x="y"] ${NGINX_JSON}`)).toBe(NGINX_JSON);
    expect(syslogPayload(`<134>1 - - - - - - \ufeff${NGINX_JSON}`)).toBe(NGINX_JSON);
  });

  it('a bare JSON line (Caddy net writer, log shippers)', () => {
    expect(syslogPayload(NGINX_JSON)).toBe(NGINX_JSON);
  });

  it('rejects what is not syslog', () => {
    for (const bad of ['', 'hello', '<>x', '<1000>x', '<19x>x', '<13>1 a b c d', '<13>1 a b c d e [unterminated', '<13>1 a b c d e -', '<13>no json here']) {
      expect(syslogPayload(bad), bad).toBeUndefined();
    }
  });
});

describe('one JSON access-log line as an outcome', () => {
  it('reads the documented format', () => {
    expect(accessLineToOutcome(NGINX_JSON)).toEqual({
      requestId: '8f0c2c1d6e0b4a7b9c3d2e1f00112233', method: 'POST', path: '/login?next=%2F', host: 'app.example.com',
      status: 401, resultHeader: undefined, clientIp: '10.0.1.5', forwardedFor: '198.51.100.7',
    });
  });

  it("reads Traefik's JSON access log with headers kept", () => {
    const traefik = JSON.stringify({
      ClientHost: '10.0.1.5', RequestMethod: 'POST', RequestPath: '/login', RequestHost: 'app.example.com', DownstreamStatus: 401,
      'request_X-Forwarded-For': '198.51.100.7', 'request_X-Request-Id': 'abc', 'downstream_X-Portcullis-Signin-Result': 'failure',
    });
    expect(accessLineToOutcome(traefik)).toEqual({
      requestId: 'abc', method: 'POST', path: '/login', host: 'app.example.com', status: 401, resultHeader: 'failure', clientIp: '10.0.1.5', forwardedFor: '198.51.100.7',
    });
  });

  it("reads Caddy's nested JSON access log", () => {
    const caddy = JSON.stringify({
      level: 'info', logger: 'http.log.access', msg: 'handled request', status: 200,
      request: { remote_ip: '10.0.1.5', method: 'POST', host: 'app.example.com', uri: '/login', headers: { 'X-Forwarded-For': ['198.51.100.7'] } },
      resp_headers: { 'X-Portcullis-Signin-Result': ['success'] },
    });
    expect(accessLineToOutcome(caddy)).toMatchObject({ method: 'POST', path: '/login', status: 200, resultHeader: 'success', clientIp: '10.0.1.5', forwardedFor: '198.51.100.7' });
  });

  it('treats nginx placeholders as absent and accepts a quoted status', () => {
    expect(accessLineToOutcome('{"request_id":"-","peer":"10.0.1.5","xff":"-","method":"POST","uri":"/login","status":"302"}')).toMatchObject({ requestId: undefined, status: 302, clientIp: '10.0.1.5' });
  });

  it('drops lines it cannot use, whatever they contain', () => {
    for (const bad of [
      'not json', '[]', 'null', '42', '{"status":401}', // nothing to correlate with
      '{"request_id":"a","status":"abc"}', '{"request_id":"a","status":1000}', '{"request_id":"a"}',
      '{"request_id":"a","status":401', // truncated
      `${'['.repeat(100_000)}`, // deep nesting
      '{"__proto__":{"polluted":true},"request_id":"a","status":"x"}',
    ]) {
      expect(accessLineToOutcome(bad), bad.slice(0, 40)).toBeUndefined();
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('closed sets are documented', () => {
  it('every syslog result and rejection reason is in docs/metrics.md and docs/proxies.md', async () => {
    const { readFileSync } = await import('node:fs');
    const { SYSLOG_RESULTS, SYSLOG_REJECTIONS } = await import('../../../src/telemetry/syslog-metrics.ts');
    const metrics = readFileSync('docs/metrics.md', 'utf8');
    const proxies = readFileSync('docs/proxies.md', 'utf8');
    for (const r of SYSLOG_RESULTS) {
      expect(metrics, r).toContain(r);
      if (r !== 'accepted') expect(proxies, r).toContain(`\`${r}\``);
    }
    for (const r of SYSLOG_REJECTIONS) expect(metrics, r).toContain(r);
  });
});
