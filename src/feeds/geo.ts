import { fileSignature } from './file-signature.ts';
// MaxMind-format databases for dynamic zones: optional ASN, Country/City and Anonymous-IP
// readers, each swapped atomically when its file changes. A missing or corrupt file is a
// reported status, never a throw; a bad replacement keeps the previous reader serving.
import type { AnonymousIPResponse, AsnResponse, CityResponse, Reader, Response } from 'maxmind';

// The reader library is imported with the first database load, not at start-up: it is ~8 MB of RSS that a
// sidecar without --geoip-* flags never uses (docs/benchmarks.md, Idle RSS).
let maxmindModule: Promise<typeof import('maxmind').default> | undefined;
const maxmind = () => (maxmindModule ??= import('maxmind').then((m) => m.default));

export type GeoDbKind = 'asn' | 'country' | 'anonymous';

export interface AnonymousFacts {
  any: boolean;
  vpn: boolean;
  hosting: boolean;
  publicProxy: boolean;
  tor: boolean;
  residentialProxy: boolean;
}

/** What the databases say about one IP. A field is absent when its database is not loaded or has no answer. */
export interface GeoFacts {
  country?: string;
  /** ISO 3166-2, e.g. 'US-CA'. */
  subdivisions?: string[];
  asn?: number;
  asOrg?: string;
  /** Present whenever the anonymous database is loaded: all false on a miss. */
  anonymous?: AnonymousFacts;
}

export interface GeoLookup {
  lookup(ipText: string): GeoFacts;
}

export interface GeoDbStatus {
  db: GeoDbKind;
  path: string;
  /** The last (re)load attempt succeeded. */
  ok: boolean;
  /** A reader is answering lookups (possibly an older one when ok is false). */
  serving: boolean;
  error?: string;
  databaseType?: string;
  /** ISO time the loaded database was built. */
  buildEpoch?: string;
  /** Successful loads, including the first. */
  loads: number;
}

export interface GeoDatabasesOptions {
  asn?: string;
  country?: string;
  anonymous?: string;
  /** Poll the paths for changes (default true). stat() follows Kubernetes' symlink swaps. */
  watch?: boolean;
  pollIntervalMs?: number;
  /** Called after every (re)load attempt, successful or not; exceptions are ignored. */
  onStatus?: (status: GeoDbStatus) => void;
  /** Size of mmdb-lib's decoded-record cache per reader. */
  readerCacheMax?: number;
}

// databaseType substrings accepted per slot; catches a path pointing at the wrong file.
const ACCEPTED: Record<GeoDbKind, RegExp> = {
  asn: /ASN|ISP/i,
  country: /Country|City|Enterprise/i,
  anonymous: /Anonymous|IP-Risk/i,
};

const KINDS: readonly GeoDbKind[] = ['asn', 'country', 'anonymous'];
const LABEL: Record<GeoDbKind, string> = { asn: 'an ASN', country: 'a Country/City', anonymous: 'an Anonymous-IP' };

interface Slot {
  kind: GeoDbKind;
  path: string;
  reader: Reader<Response> | undefined;
  status: GeoDbStatus;
  loading: Promise<void> | undefined;
  again: boolean;
  /** stat signature taken just before the last load attempt. */
  seen: string;
}

export class GeoDatabases implements GeoLookup {
  private readonly slots = new Map<GeoDbKind, Slot>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private gen = 0;

  private constructor(private readonly opts: GeoDatabasesOptions) {
    for (const kind of KINDS) {
      const path = opts[kind];
      if (path === undefined || path === '') continue;
      this.slots.set(kind, {
        kind,
        path,
        reader: undefined,
        status: { db: kind, path, ok: false, serving: false, error: 'not loaded yet', loads: 0 },
        loading: undefined,
        again: false,
        seen: '',
      });
    }
  }

  /** Opens every configured database; resolves even when some fail (see status()). */
  static async open(opts: GeoDatabasesOptions): Promise<GeoDatabases> {
    const dbs = new GeoDatabases(opts);
    await dbs.reload();
    if (opts.watch !== false) dbs.startWatching();
    return dbs;
  }

  /** Bumped on every reader swap: key per-snapshot lookup caches on it. */
  get generation(): number {
    return this.gen;
  }

  status(): GeoDbStatus[] {
    return [...this.slots.values()].map((s) => ({ ...s.status }));
  }

  /** True when the database is configured and a reader is answering. */
  has(kind: GeoDbKind): boolean {
    return this.slots.get(kind)?.reader !== undefined;
  }

  /** Re-read one or all files now (also what the watcher calls). */
  async reload(kind?: GeoDbKind): Promise<void> {
    const slots = kind ? [this.slots.get(kind)].filter((s): s is Slot => s !== undefined) : [...this.slots.values()];
    await Promise.all(slots.map((s) => this.reloadSlot(s)));
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  lookup(ipText: string): GeoFacts {
    const ip = forLookup(ipText);
    const facts: GeoFacts = {};
    if (ip === undefined) return facts;

    const asn = get<AsnResponse>(this.slots.get('asn'), ip);
    if (asn && typeof asn.autonomous_system_number === 'number') {
      facts.asn = asn.autonomous_system_number;
      if (asn.autonomous_system_organization) facts.asOrg = asn.autonomous_system_organization;
    }

    const geo = get<CityResponse>(this.slots.get('country'), ip);
    const country = geo?.country?.iso_code;
    if (country) {
      facts.country = country;
      const subs = geo?.subdivisions;
      if (subs && subs.length > 0) facts.subdivisions = subs.map((s) => `${country}-${s.iso_code}`);
    }

    const anonSlot = this.slots.get('anonymous');
    if (anonSlot?.reader) {
      const a = get<AnonymousIPResponse>(anonSlot, ip) ?? {};
      const flags = {
        vpn: a.is_anonymous_vpn === true,
        hosting: a.is_hosting_provider === true,
        publicProxy: a.is_public_proxy === true,
        tor: a.is_tor_exit_node === true,
        residentialProxy: a.is_residential_proxy === true,
      };
      const any = a.is_anonymous === true || flags.vpn || flags.hosting || flags.publicProxy || flags.tor || flags.residentialProxy;
      facts.anonymous = { any, ...flags };
    }
    return facts;
  }

  private reloadSlot(slot: Slot): Promise<void> {
    // Coalesce: a change during a load schedules exactly one more load.
    if (slot.loading) {
      slot.again = true;
      return slot.loading;
    }
    slot.loading = (async () => {
      try {
        do {
          slot.again = false;
          await this.loadOnce(slot);
        } while (slot.again);
      } finally {
        slot.loading = undefined;
      }
    })();
    return slot.loading;
  }

  private async loadOnce(slot: Slot): Promise<void> {
    // Taken before reading: a write landing mid-read changes it again and triggers another load.
    slot.seen = await fileSignature(slot.path);
    try {
      const reader = await (await maxmind()).open<Response>(slot.path, { cache: { max: this.opts.readerCacheMax ?? 10_000 } });
      const type = reader.metadata.databaseType;
      if (!ACCEPTED[slot.kind].test(type)) throw new Error(`database type ${JSON.stringify(type)} is not ${LABEL[slot.kind]} database`);
      // Walk the tree once for both families so a corrupt search tree fails here, not mid-request.
      reader.get('1.1.1.1');
      if (reader.metadata.ipVersion === 6) reader.get('2001:db8::1');
      slot.reader = reader;
      this.gen++;
      slot.status = {
        db: slot.kind,
        path: slot.path,
        ok: true,
        serving: true,
        databaseType: type,
        buildEpoch: reader.metadata.buildEpoch.toISOString(),
        loads: slot.status.loads + 1,
      };
    } catch (err) {
      const prev = slot.status;
      slot.status = { ...prev, ok: false, serving: slot.reader !== undefined, error: describe(err, slot.reader !== undefined) };
    }
    try {
      this.opts.onStatus?.({ ...slot.status });
    } catch {
      // A throwing observer must not stop reloads or surface as an unhandled rejection.
    }
  }

  // One shared timer comparing stat signatures. fs.watchFile was tried first: its baseline
  // is taken asynchronously, so a file created right after open() was never noticed.
  private startWatching(): void {
    this.timer = setInterval(() => void this.poll(), this.opts.pollIntervalMs ?? 5_000);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        [...this.slots.values()].map(async (slot) => {
          if ((await fileSignature(slot.path)) !== slot.seen) await this.reloadSlot(slot);
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}


function get<T>(slot: Slot | undefined, ip: string): T | null | undefined {
  const reader = slot?.reader;
  if (!reader) return undefined;
  try {
    return reader.get(ip) as T | null;
  } catch {
    // e.g. an IPv6 address against an IPv4-only database: a miss, not a failure.
    return null;
  }
}

// Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; IPv4-only databases need the bare form.
function forLookup(ipText: string): string | undefined {
  const ip = ipText.trim();
  if (ip === '') return undefined;
  if (ip.length > 7 && ip.charCodeAt(0) === 58 && /^::ffff:\d/i.test(ip) && ip.includes('.')) return ip.slice(7);
  return ip;
}

function describe(err: unknown, keptOld: boolean): string {
  const e = err as NodeJS.ErrnoException;
  const msg = e?.code === 'ENOENT' ? 'file not found' : e instanceof Error ? e.message : String(err);
  return keptOld ? `${msg} (keeping the previously loaded database)` : msg;
}
