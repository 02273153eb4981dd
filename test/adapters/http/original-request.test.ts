import { describe, expect, it } from 'vitest';
import { conventionOf, factsFromAuthRequest, missingOriginalHeader, originalRequest } from '../../../src/adapters/http/original-request.ts';

// Header sets as each proxy sends them to an auth service, for `POST https://app.example.com/login?next=/`
// arriving from 198.51.100.7 through a load balancer at 10.0.0.9.
const NGINX = {
  // nginx auth_request with the location in docs/proxies.md; client headers are inherited by the subrequest.
  host: 'app.example.com',
  'x-original-uri': '/login?next=/',
  'x-original-method': 'POST',
  'x-forwarded-for': '198.51.100.7, 10.0.0.9',
  'x-request-id': '4c1f0a9e2b3d4e5f60718293a4b5c6d7',
  'user-agent': 'Mozilla/5.0',
  // Forged by the client, passed through by nginx: the nginx convention never reads it.
  'x-forwarded-uri': '/static/logo.png',
};
const INGRESS_NGINX = {
  host: 'portcullis.portcullis.svc',
  'x-original-url': 'https://app.example.com/login?next=/',
  'x-original-method': 'POST',
  'x-real-ip': '198.51.100.7',
  'x-forwarded-for': '198.51.100.7, 10.0.0.9',
  'x-original-uri': '/static/forged', // ingress-nginx sets X-Original-URI only with auth-method; a client may send one
};
const TRAEFIK = {
  host: 'portcullis:9002',
  'x-forwarded-method': 'POST',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'app.example.com',
  'x-forwarded-uri': '/login?next=/',
  'x-forwarded-for': '198.51.100.7, 10.0.0.9',
  'x-original-uri': '/static/forged',
};

describe('learning the original request per proxy convention', () => {
  it('selects the convention by path only; /auth/envoy is a prefix carrying the original path', () => {
    expect(conventionOf('/auth/nginx')).toEqual({ convention: 'nginx' });
    expect(conventionOf('/auth/nginx?x=1')).toEqual({ convention: 'nginx' });
    expect(conventionOf('/auth/ingress-nginx')).toEqual({ convention: 'ingress-nginx' });
    expect(conventionOf('/auth/traefik')).toEqual({ convention: 'forwarded' });
    expect(conventionOf('/auth/caddy')).toEqual({ convention: 'forwarded' });
    expect(conventionOf('/auth/envoy/login?next=/')).toEqual({ convention: 'envoy', envoyPath: '/login?next=/' });
    expect(conventionOf('/auth/envoy')).toEqual({ convention: 'envoy', envoyPath: '/' });
    expect(conventionOf('/auth/envoyx/login')).toBeUndefined();
    expect(conventionOf('/')).toBeUndefined();
  });

  it('reads only the headers each proxy sets, ignoring other conventions a client could forge', () => {
    const want = { method: 'POST', path: '/login?next=/', host: 'app.example.com' };
    expect(originalRequest('nginx', NGINX, 'GET', undefined)).toEqual(want);
    expect(originalRequest('ingress-nginx', INGRESS_NGINX, 'GET', undefined)).toEqual(want);
    expect(originalRequest('forwarded', TRAEFIK, 'GET', undefined)).toEqual(want);
    expect(originalRequest('envoy', { host: 'app.example.com' }, 'POST', '/login?next=/')).toEqual(want);
    expect(originalRequest('envoy', { ':authority': 'app.example.com' }, 'POST', '/login?next=/')).toEqual(want);
  });

  it('names the missing header when a proxy is misconfigured', () => {
    expect(missingOriginalHeader('nginx', { host: 'x' })).toBe('x-original-uri');
    expect(missingOriginalHeader('ingress-nginx', {})).toBe('x-original-url');
    expect(missingOriginalHeader('forwarded', {})).toBe('x-forwarded-uri');
    expect(missingOriginalHeader('envoy', {})).toBeUndefined();
    expect(missingOriginalHeader('nginx', NGINX)).toBeUndefined();
  });

  it('builds facts with the proxy as peer and the configured chain header; never a body', () => {
    const f = factsFromAuthRequest('nginx', NGINX, '::ffff:10.0.3.4', 'GET', undefined, 'x-forwarded-for');
    expect(f.peer?.text).toBe('10.0.3.4');
    expect(f.xForwardedFor).toBe('198.51.100.7, 10.0.0.9');
    expect(f).toMatchObject({ method: 'POST', path: '/login?next=/', host: 'app.example.com', requestId: '4c1f0a9e2b3d4e5f60718293a4b5c6d7', userAgent: 'Mozilla/5.0' });
    expect(f.body).toBeUndefined();
    const real = factsFromAuthRequest('ingress-nginx', INGRESS_NGINX, '10.0.3.4', 'GET', undefined, 'x-real-ip');
    expect(real.xForwardedFor).toBe('198.51.100.7');
    expect(factsFromAuthRequest('nginx', {}, undefined, 'GET', undefined, 'x-forwarded-for').peer).toBeUndefined();
  });
});
