import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { RESOURCE_LIST } from '../../src/sources/kubernetes/resources.ts';

/**
 * A stand-in for kube-apiserver (none can be installed here), faithful for what Portcullis uses: list with
 * resourceVersion and limit/continue paging, chunked watch streams from a resourceVersion with BOOKMARKs and
 * timeoutSeconds, 410 Gone for a compacted resourceVersion, generation bumped on spec changes only, the status
 * subresource (PUT with 409 on a stale resourceVersion, merge PATCH), core/v1 Events, Leases (strict MicroTime
 * parsing as the real server does), discovery documents for kubectl, and fault injection. It does not emulate
 * authn/authz beyond a bearer token, admission, CRD schema validation/defaulting/pruning, field selectors,
 * server-side apply, or consistent snapshots across list pages (later pages read the current state).
 */

type Obj = { apiVersion?: string; kind?: string; metadata: Record<string, unknown> & { name: string; namespace?: string; resourceVersion?: string; uid?: string; generation?: number }; spec?: unknown; status?: unknown; [k: string]: unknown };

interface Res { group: string; version: string; plural: string; kind: string; namespaced: boolean; status: boolean; generation: boolean; verbs: string[] }

const CRUD = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];
const RESOURCES: Res[] = [
  ...RESOURCE_LIST.map((r) => ({ group: r.group, version: r.version, plural: r.plural, kind: r.kind, namespaced: true, status: true, generation: true, verbs: CRUD })),
  { group: '', version: 'v1', plural: 'events', kind: 'Event', namespaced: true, status: false, generation: false, verbs: CRUD },
  { group: '', version: 'v1', plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, status: false, generation: false, verbs: CRUD },
  { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true, status: false, generation: false, verbs: CRUD },
  { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false, status: true, generation: true, verbs: CRUD },
  ...([['roles', 'Role', true], ['rolebindings', 'RoleBinding', true], ['clusterroles', 'ClusterRole', false], ['clusterrolebindings', 'ClusterRoleBinding', false]] as const)
    .map(([plural, kind, namespaced]) => ({ group: 'rbac.authorization.k8s.io', version: 'v1', plural, kind, namespaced, status: false, generation: false, verbs: CRUD })),
];

const MICROTIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$/;

export interface RecordedRequest { readonly method: string; readonly path: string; readonly query: URLSearchParams; readonly body?: Obj; readonly at: number }
interface Fault { method?: string; match: RegExp; status: number; remaining: number }
interface Watcher { res: Res; ns?: string; send(type: string, obj: unknown): void; socket: Socket }
interface LogEntry { rv: number; type: 'ADDED' | 'MODIFIED' | 'DELETED'; res: Res; ns?: string; obj: Obj }

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string) { super(message); }
}

const clone = <T>(v: T): T => structuredClone(v);

export class FakeApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly #store = new Map<string, Obj>();
  readonly #log: LogEntry[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #faults: Fault[] = [];
  #rv = 1000;
  /** Watches from before this resourceVersion get 410 Gone (history compacted). */
  #oldest = 1000;
  #server!: Server;
  url = '';

  private constructor(readonly options: { token?: string; bookmarkMs?: number; goneAs?: 'event' | 'http' }) {}

  static async start(options: { token?: string; bookmarkMs?: number; goneAs?: 'event' | 'http' } = {}): Promise<FakeApiServer> {
    const s = new FakeApiServer({ token: 'fake-token', ...options });
    s.#server = createServer((req, res) => void s.#handle(req, res));
    await new Promise<void>((r) => s.#server.listen(0, '127.0.0.1', r));
    s.url = `http://127.0.0.1:${(s.#server.address() as AddressInfo).port}`;
    return s;
  }

  /** A kubeconfig for this server. client-node only speaks plain http with insecure-skip-tls-verify set. */
  writeKubeconfig(dir: string, namespace = 'default'): string {
    const path = join(dir, 'kubeconfig');
    writeFileSync(path, [
      'apiVersion: v1', 'kind: Config', 'current-context: fake',
      `clusters: [{ name: fake, cluster: { server: "${this.url}", insecure-skip-tls-verify: true } }]`,
      `users: [{ name: fake, user: { token: ${this.options.token ?? 'none'} } }]`,
      `contexts: [{ name: fake, context: { cluster: fake, user: fake, namespace: ${namespace} } }]`, '',
    ].join('\n'));
    return path;
  }

  get resourceVersion(): number { return this.#rv; }
  get watchCount(): number { return this.#watchers.size; }

  // --- what kubectl would do, without the HTTP round trip ---
  apply(obj: Obj): Obj {
    const res = this.#resFor(obj);
    const ns = obj.metadata.namespace ?? 'default';
    const existing = this.#store.get(this.#key(res, ns, obj.metadata.name));
    if (!existing) return this.#create(res, ns, clone(obj));
    return this.#update(res, ns, obj.metadata.name, { ...clone(obj), metadata: { ...clone(obj.metadata), resourceVersion: undefined } }, false);
  }
  get(kind: string, namespace: string, name: string): Obj | undefined {
    const res = RESOURCES.find((r) => r.kind === kind)!;
    const o = this.#store.get(this.#key(res, namespace, name));
    return o && clone(o);
  }
  list(kind: string, namespace?: string): Obj[] {
    const res = RESOURCES.find((r) => r.kind === kind)!;
    return this.#items(res, namespace).map(clone);
  }
  remove(kind: string, namespace: string, name: string): void {
    const res = RESOURCES.find((r) => r.kind === kind)!;
    this.#delete(res, namespace, name);
  }
  /** Forgets watch history: any older resourceVersion now gets 410 Gone, as after etcd compaction. */
  compact(): void { this.#oldest = this.#rv; this.#log.length = 0; }
  /** Cuts every open watch mid-stream (connection reset, no clean end). */
  dropWatches(): void { for (const w of this.#watchers) w.socket.destroy(); this.#watchers.clear(); }
  /** The next `count` requests matching fail with `status`. */
  fail(match: RegExp, status: number, count: number, method?: string): void { this.#faults.push({ match, status, remaining: count, method }); }
  async close(): Promise<void> {
    this.dropWatches();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  // --- HTTP ---
  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    let body: Obj | undefined;
    try {
      const text = await new Promise<string>((resolve, reject) => {
        let t = ''; req.setEncoding('utf8'); req.on('data', (c: string) => { t += c; }); req.on('end', () => resolve(t)); req.on('error', reject);
      });
      if (text) body = JSON.parse(text) as Obj;
      this.requests.push({ method, path: url.pathname, query: url.searchParams, body, at: performance.now() });
      if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) throw new HttpError(401, 'Unauthorized', 'Unauthorized');
      const fault = this.#faults.find((f) => f.remaining > 0 && (!f.method || f.method === method) && f.match.test(`${url.pathname}${url.search}`));
      if (fault) { fault.remaining--; throw new HttpError(fault.status, fault.status === 429 ? 'TooManyRequests' : 'InternalError', `injected failure ${fault.status}`); }
      const out = this.#route(method, url, body, req, res);
      if (out !== undefined) this.#json(res, out.code, out.body);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', String(err));
      if (!res.headersSent) this.#json(res, e.code, this.#status(e));
    }
  }

  #json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #status(e: HttpError) {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: e.message, reason: e.reason, code: e.code };
  }

  #route(method: string, url: URL, body: Obj | undefined, req: IncomingMessage, res: ServerResponse): { code: number; body: unknown } | undefined {
    const p = url.pathname.split('/').filter(Boolean);
    if (url.pathname === '/api') return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: url.host }] } };
    if (url.pathname === '/apis') return { code: 200, body: this.#groups() };
    if (url.pathname === '/version') return { code: 200, body: { major: '1', minor: '32', gitVersion: 'v1.32.0-fake' } };
    // /api/v1/... or /apis/{group}/{version}/...
    const [group, version, rest] = p[0] === 'api' ? ['', p[1], p.slice(2)] : [p[1], p[2], p.slice(3)];
    if (p[0] !== 'api' && p[0] !== 'apis') throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    if (rest.length === 0) return { code: 200, body: this.#resourceList(group ?? '', version ?? '') };
    let ns: string | undefined;
    let i = 0;
    if (rest[0] === 'namespaces' && rest.length >= 3) { ns = rest[1]; i = 2; }
    const r = RESOURCES.find((x) => x.group === group && x.version === version && x.plural === rest[i]);
    if (!r) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const name = rest[i + 1];
    const sub = rest[i + 2];
    if (!name) {
      if (method === 'GET' && (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1')) { this.#watch(r, ns, url.searchParams, req, res); return undefined; }
      if (method === 'GET') return { code: 200, body: this.#listBody(r, ns, url.searchParams) };
      if (method === 'POST' && body) return { code: 201, body: this.#create(r, ns, body) };
    } else if (!sub) {
      const key = this.#key(r, ns, name);
      if (method === 'GET') { const o = this.#store.get(key); if (!o) throw this.#notFound(r, name); return { code: 200, body: o }; }
      if (method === 'PUT' && body) return { code: 200, body: this.#update(r, ns, name, body, false) };
      if (method === 'PATCH' && body) return { code: 200, body: this.#update(r, ns, name, mergePatch(this.#mustGet(r, ns, name), body), false, true) };
      if (method === 'DELETE') { const o = this.#delete(r, ns, name); return { code: 200, body: o }; }
    } else if (sub === 'status' && r.status) {
      if (method === 'GET') return { code: 200, body: this.#mustGet(r, ns, name) };
      if (method === 'PUT' && body) return { code: 200, body: this.#update(r, ns, name, body, true) };
      if (method === 'PATCH' && body) {
        const cur = this.#mustGet(r, ns, name);
        return { code: 200, body: this.#update(r, ns, name, { ...cur, status: mergePatch(cur.status ?? {}, body.status ?? {}) }, true, true) };
      }
    }
    throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported here`);
  }

  #groups() {
    const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
    return {
      kind: 'APIGroupList', apiVersion: 'v1',
      groups: groups.map((g) => {
        const v = RESOURCES.find((r) => r.group === g)!.version;
        return { name: g, versions: [{ groupVersion: `${g}/${v}`, version: v }], preferredVersion: { groupVersion: `${g}/${v}`, version: v } };
      }),
    };
  }

  #resourceList(group: string, version: string) {
    const rs = RESOURCES.filter((r) => r.group === group && r.version === version);
    if (rs.length === 0) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    return {
      kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version,
      resources: rs.flatMap((r) => [
        { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: r.verbs },
        ...(r.status ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ]),
    };
  }

  #key(r: Res, ns: string | undefined, name: string): string { return `${r.group}/${r.plural}/${r.namespaced ? ns ?? '' : ''}/${name}`; }
  #resFor(o: Obj): Res {
    const [group, version] = (o.apiVersion ?? '').includes('/') ? o.apiVersion!.split('/') : ['', o.apiVersion];
    const r = RESOURCES.find((x) => x.group === group && x.version === version && x.kind === o.kind);
    if (!r) throw new Error(`fake apiserver: no resource for ${o.apiVersion} ${o.kind}`);
    return r;
  }
  #notFound(r: Res, name: string) { return new HttpError(404, 'NotFound', `${r.plural}${r.group ? `.${r.group}` : ''} "${name}" not found`); }
  #mustGet(r: Res, ns: string | undefined, name: string): Obj {
    const o = this.#store.get(this.#key(r, ns, name));
    if (!o) throw this.#notFound(r, name);
    return clone(o);
  }
  #items(r: Res, ns: string | undefined): Obj[] {
    return [...this.#store.values()].filter((o) => this.#resFor(o) === r && (ns === undefined || o.metadata.namespace === ns))
      .sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
  }

  #listBody(r: Res, ns: string | undefined, q: URLSearchParams) {
    const limit = Number(q.get('limit') ?? 0);
    let after = '';
    let rv = String(this.#rv);
    const cont = q.get('continue');
    if (cont) {
      const c = JSON.parse(Buffer.from(cont, 'base64url').toString()) as { rv: string; after: string };
      if (Number(c.rv) < this.#oldest) throw new HttpError(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.');
      after = c.after; rv = c.rv;
    }
    const all = this.#items(r, ns).filter((o) => !after || `${o.metadata.namespace}/${o.metadata.name}` > after);
    const items = limit > 0 ? all.slice(0, limit) : all;
    const more = limit > 0 && all.length > limit;
    const last = items[items.length - 1];
    return {
      apiVersion: r.group ? `${r.group}/${r.version}` : r.version, kind: `${r.kind}List`,
      metadata: { resourceVersion: rv, ...(more && last ? { continue: Buffer.from(JSON.stringify({ rv, after: `${last.metadata.namespace}/${last.metadata.name}` })).toString('base64url'), remainingItemCount: all.length - limit } : {}) },
      items: items.map((o) => ({ ...o, apiVersion: o.apiVersion, kind: r.kind })),
    };
  }

  #watch(r: Res, ns: string | undefined, q: URLSearchParams, req: IncomingMessage, res: ServerResponse): void {
    const rvParam = q.get('resourceVersion') ?? '';
    const from = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && from < this.#oldest) {
      const gone = new HttpError(410, 'Expired', `too old resource version: ${from} (${this.#oldest})`);
      if (this.options.goneAs === 'http') { this.#json(res, 410, this.#status(gone)); return; }
      // What kube-apiserver does: a 200 stream whose only event is an ERROR carrying a 410 Status.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: this.#status(gone) })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    const w: Watcher = { res: r, ns, socket: req.socket, send: (type, obj) => res.write(`${JSON.stringify({ type, object: obj })}\n`) };
    if (from === undefined) for (const o of this.#items(r, ns)) w.send('ADDED', o);
    else for (const e of this.#log) if (e.rv > from && e.res === r && (ns === undefined || e.ns === ns)) w.send(e.type, e.obj);
    this.#watchers.add(w);
    const timers: NodeJS.Timeout[] = [];
    const end = () => { this.#watchers.delete(w); for (const t of timers) clearTimeout(t); };
    if (q.get('allowWatchBookmarks') === 'true' && this.options.bookmarkMs) {
      timers.push(setInterval(() => w.send('BOOKMARK', { kind: r.kind, apiVersion: `${r.group}/${r.version}`, metadata: { resourceVersion: String(this.#rv) } }), this.options.bookmarkMs));
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) timers.push(setTimeout(() => { end(); res.end(); }, timeout * 1000));
    res.on('close', end);
  }

  #emit(type: LogEntry['type'], r: Res, obj: Obj): void {
    const entry: LogEntry = { rv: Number(obj.metadata.resourceVersion), type, res: r, ns: obj.metadata.namespace, obj: clone(obj) };
    this.#log.push(entry);
    for (const w of this.#watchers) if (w.res === r && (w.ns === undefined || w.ns === entry.ns)) w.send(type, entry.obj);
  }

  #checkTimes(r: Res, o: Obj): void {
    if (r.kind !== 'Lease') return;
    for (const f of ['acquireTime', 'renewTime']) {
      const v = (o.spec as Record<string, unknown> | undefined)?.[f];
      if (v !== undefined && v !== null && (typeof v !== 'string' || !MICROTIME.test(v))) {
        throw new HttpError(400, 'BadRequest', `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05.000000Z07:00"`);
      }
    }
  }

  #create(r: Res, ns: string | undefined, body: Obj): Obj {
    this.#checkTimes(r, body);
    const name = body.metadata.name || (typeof body.metadata.generateName === 'string' ? `${body.metadata.generateName}${randomUUID().slice(0, 5)}` : '');
    if (!name) throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
    const key = this.#key(r, ns, name);
    if (this.#store.has(key)) throw new HttpError(409, 'AlreadyExists', `${r.plural} "${name}" already exists`);
    const o: Obj = {
      ...body, apiVersion: r.group ? `${r.group}/${r.version}` : r.version, kind: r.kind,
      metadata: { ...body.metadata, name, ...(r.namespaced ? { namespace: ns } : {}), uid: randomUUID(), resourceVersion: String(++this.#rv), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...(r.generation ? { generation: 1 } : {}) },
    };
    if (r.status) delete o.status; // with a status subresource, status is ignored on create
    this.#store.set(key, o);
    this.#emit('ADDED', r, o);
    return clone(o);
  }

  #update(r: Res, ns: string | undefined, name: string, body: Obj, statusOnly: boolean, patch = false): Obj {
    const key = this.#key(r, ns, name);
    const cur = this.#store.get(key);
    if (!cur) throw this.#notFound(r, name);
    const rv = body.metadata?.resourceVersion;
    if (!patch && rv !== undefined && rv !== cur.metadata.resourceVersion) {
      throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural}${r.group ? `.${r.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    this.#checkTimes(r, body);
    let next: Obj;
    if (statusOnly) next = { ...cur, status: body.status, metadata: { ...cur.metadata } };
    else {
      next = { ...body, apiVersion: cur.apiVersion, kind: cur.kind, metadata: { ...cur.metadata, labels: body.metadata.labels, annotations: body.metadata.annotations } };
      if (r.status) next.status = cur.status; // the main resource ignores status changes
      if (r.generation && JSON.stringify(body.spec) !== JSON.stringify(cur.spec)) next.metadata.generation = (cur.metadata.generation ?? 0) + 1;
    }
    if (JSON.stringify(next) === JSON.stringify(cur)) return clone(cur); // a no-op update keeps the resourceVersion
    next.metadata.resourceVersion = String(++this.#rv);
    this.#store.set(key, next);
    this.#emit('MODIFIED', r, next);
    return clone(next);
  }

  #delete(r: Res, ns: string | undefined, name: string): Obj {
    const key = this.#key(r, ns, name);
    const cur = this.#store.get(key);
    if (!cur) throw this.#notFound(r, name);
    this.#store.delete(key);
    const gone = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(++this.#rv) } };
    this.#emit('DELETED', r, gone);
    return clone(gone);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch<T>(target: T, patch: unknown): T {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch as T;
  const out: Record<string, unknown> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out as T;
}
