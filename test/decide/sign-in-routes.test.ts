import { describe, expect, it } from 'vitest';
import { compileRoutes } from '../../src/decide/sign-in-routes.ts';

describe('sign-in route matching', () => {
  const m = compileRoutes([
    { path: { exact: '/login' }, methods: ['POST'] },
    { path: { prefix: '/api/auth/' } },
    { path: { regex: '^/t/[^/]+/token$' }, host: '*.example.com' },
    { path: { exact: '/session' }, host: 'id.example.org' },
  ]);
  it('exact path and method; the query string is ignored', () => {
    expect(m.matches('POST', '/login?next=/home', 'a')).toBe(true);
    expect(m.matches('GET', '/login', 'a')).toBe(false);
    expect(m.matches('POST', '/login/', 'a')).toBe(false);
  });
  it('prefix matches any method', () => {
    expect(m.matches('PUT', '/api/auth/password', 'a')).toBe(true);
    expect(m.matches('PUT', '/api/authx', 'a')).toBe(false);
  });
  it('regex with a wildcard host; the port is ignored, case-insensitive', () => {
    expect(m.matches('POST', '/t/acme/token', 'Login.Example.com:8443')).toBe(true);
    expect(m.matches('POST', '/t/acme/token', 'example.org')).toBe(false);
  });
  it('exact host', () => {
    expect(m.matches('POST', '/session', 'id.example.org')).toBe(true);
    expect(m.matches('POST', '/session', 'evil.example.org')).toBe(false);
  });
  it('defaults cover form, OAuth2/OIDC token and JSON authn endpoints', () => {
    const d = compileRoutes(undefined);
    for (const p of ['/login', '/oauth/token', '/oauth2/default/v1/token', '/realms/main/protocol/openid-connect/token', '/api/v1/authn', '/wp-login.php']) {
      expect(d.matches('POST', p, 'h'), p).toBe(true);
    }
    expect(d.matches('POST', '/api/orders', 'h')).toBe(false);
  });
});
