import type { RouteMatchSpec } from '../api/objects.ts';

/**
 * Default sign-in routes, used when a ThreatPolicy names none. They cover the common shapes of credential
 * endpoints; an app with other paths must list its own (docs/configuration.md).
 */
export const DEFAULT_SIGN_IN_ROUTES: readonly RouteMatchSpec[] = Object.freeze([
  // Form logins
  { path: { exact: '/login' }, methods: ['POST'] },
  { path: { exact: '/signin' }, methods: ['POST'] },
  { path: { exact: '/sign-in' }, methods: ['POST'] },
  { path: { exact: '/users/sign_in' }, methods: ['POST'] },
  { path: { exact: '/wp-login.php' }, methods: ['POST'] },
  { path: { exact: '/j_security_check' }, methods: ['POST'] },
  // OAuth 2.0 / OIDC token endpoints (password and client-credential grants are guessable)
  { path: { exact: '/oauth/token' }, methods: ['POST'] },
  { path: { exact: '/oauth2/token' }, methods: ['POST'] },
  { path: { regex: '^/oauth2/(v1|[^/]+/v1)/token$' }, methods: ['POST'] },
  { path: { regex: '^/realms/[^/]+/protocol/openid-connect/token$' }, methods: ['POST'] },
  // JSON authentication APIs
  { path: { exact: '/api/v1/authn' }, methods: ['POST'] },
  { path: { exact: '/api/login' }, methods: ['POST'] },
  { path: { prefix: '/api/auth/login' }, methods: ['POST'] },
  { path: { exact: '/auth/login' }, methods: ['POST'] },
  { path: { exact: '/session' }, methods: ['POST'] },
]);

interface CompiledRoute {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: RegExp;
  readonly methods?: ReadonlySet<string>;
  readonly host?: string;
  readonly hostSuffix?: string;
}

export interface RouteMatcher {
  /** path may include a query string; host may include a port. */
  matches(method: string, path: string, host: string): boolean;
  readonly routeCount: number;
  readonly usesDefaults: boolean;
}

/** Throws a plain Error naming the bad field; compile() turns it into a ConfigIssue. */
export function compileRoutes(specs: readonly RouteMatchSpec[] | undefined): RouteMatcher {
  const usesDefaults = !specs || specs.length === 0;
  const routes: CompiledRoute[] = (usesDefaults ? DEFAULT_SIGN_IN_ROUTES : specs).map((s, i) => {
    let regex: RegExp | undefined;
    if (s.path?.regex !== undefined) {
      try {
        regex = new RegExp(s.path.regex);
      } catch (err) {
        throw new Error(`spec.signIn.routes[${i}].path.regex: not a valid regular expression (${(err as Error).message})`);
      }
    }
    const host = s.host?.toLowerCase();
    return {
      exact: s.path?.exact,
      prefix: s.path?.prefix,
      regex,
      methods: s.methods ? new Set(s.methods) : undefined,
      host: host && !host.startsWith('*.') ? host : undefined,
      hostSuffix: host?.startsWith('*.') ? host.slice(1) : undefined,
    };
  });

  return {
    routeCount: routes.length,
    usesDefaults,
    matches(method, rawPath, rawHost) {
      const q = rawPath.indexOf('?');
      const path = q === -1 ? rawPath : rawPath.slice(0, q);
      let host: string | undefined;
      for (const r of routes) {
        if (r.methods && !r.methods.has(method)) continue;
        if (r.exact !== undefined && path !== r.exact) continue;
        if (r.prefix !== undefined && !path.startsWith(r.prefix)) continue;
        if (r.regex && !r.regex.test(path)) continue;
        if (r.host !== undefined || r.hostSuffix !== undefined) {
          host ??= stripPort(rawHost).toLowerCase();
          if (r.host !== undefined && host !== r.host) continue;
          if (r.hostSuffix !== undefined && !host.endsWith(r.hostSuffix)) continue;
        }
        return true;
      }
      return false;
    },
  };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}
