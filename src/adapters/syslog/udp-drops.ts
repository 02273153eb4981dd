import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Datagrams the kernel dropped for one UDP socket (receive buffer full), from the `drops` column of
 * /proc/net/udp and /proc/net/udp6. Node exposes neither the count nor the socket's fd, so the socket is found
 * once, after bind, as the line with its local port whose inode is one of this process's sockets
 * (/proc/self/fd). Read at scrape time; off Linux, or when the files cannot be read, every read is 0.
 */
const TABLES = ['/proc/net/udp', '/proc/net/udp6'];

interface Row {
  readonly port: number;
  readonly inode: number;
  readonly drops: number;
}

/** The rows of one table: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops". */
function rows(path: string): Row[] {
  let text: string;
  try {
    text = readFileSync(path, 'latin1');
  } catch {
    return [];
  }
  const out: Row[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const local = f[1]!;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    out.push({ port, inode: Number(f[9]), drops: Number(f[f.length - 1]) });
  }
  return out;
}

function ownSocketInodes(): Set<number> {
  const inodes = new Set<number>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(Number(m[1]));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Reads the drop count of the UDP socket this process has bound on `port`; () => 0 when it cannot be found. */
export function udpDropCounter(port: number): () => number {
  const own = ownSocketInodes();
  const inode = TABLES.flatMap(rows).find((r) => r.port === port && own.has(r.inode))?.inode;
  if (inode === undefined) return () => 0;
  return () => {
    for (const table of TABLES) {
      const row = rows(table).find((r) => r.inode === inode);
      if (row) return Number.isFinite(row.drops) ? row.drops : 0;
    }
    return 0;
  };
}
