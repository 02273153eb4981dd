/**
 * Walks a serialized envoy.service.accesslog.v3.StreamAccessLogsMessage without decoding it, one field at a
 * time, yielding the byte range of each HTTPAccessLogEntry (`http_logs` = field 2, its `log_entry` = field 1).
 * One message may carry 100k entries; proto-loader decodes it in one go (over a second for such a message), so
 * the access-log service decodes one entry at a time from these ranges instead (access-log-decoder.ts).
 * Every other field (identifier, tcp_logs, unknown ones) is skipped by its wire type.
 */

/** What next() found. */
export const END = 0;
export const ENTRY = 1;
export const SKIPPED = 2;
/** The cursor left an http_logs field: entries before and after it are not contiguous. */
export const REGION_END = 3;

export class EntryCursor {
  #p = 0;
  /** End of the http_logs field the cursor is in, or -1 at the top level. */
  #region = -1;
  #done = false;
  /** The last ENTRY: [start, end), its tag and length prefix included; the entry's own bytes from `body`. */
  start = 0;
  body = 0;
  end = 0;

  constructor(private readonly b: Buffer) {}

  /** A cursor at the same place, for counting what is left without moving this one. */
  clone(): EntryCursor {
    const c = new EntryCursor(this.b);
    c.#p = this.#p;
    c.#region = this.#region;
    c.#done = this.#done;
    return c;
  }

  /** Advances over one field. END also covers bytes that are not a message: the rest is skipped. */
  next(): number {
    if (this.#done) return END;
    const b = this.b;
    const limit = this.#region >= 0 ? this.#region : b.length;
    if (this.#p >= limit) {
      if (this.#region < 0) return this.#stop();
      this.#region = -1;
      return REGION_END;
    }
    const at = this.#p;
    const tag = this.#varint(limit);
    if (tag < 0) return this.#stop();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 2) {
      const len = this.#varint(limit);
      if (len < 0) return this.#stop();
      if (this.#region < 0 && field === 2) {
        // Into http_logs. One that claims more bytes than there are still gives the entries that are whole.
        this.#region = Math.min(this.#p + len, limit);
        return SKIPPED;
      }
      if (this.#p + len > limit) return this.#stop();
      const body = this.#p;
      this.#p += len;
      if (this.#region >= 0 && field === 1) {
        this.start = at;
        this.body = body;
        this.end = this.#p;
        return ENTRY;
      }
      return SKIPPED;
    }
    if (wire === 0) {
      if (this.#varint(limit, true) < 0) return this.#stop();
    } else if (wire === 1 || wire === 5) {
      this.#p += wire === 1 ? 8 : 4;
      if (this.#p > limit) return this.#stop();
    } else return this.#stop(); // groups (3, 4) and 6, 7: not in these messages
    return SKIPPED;
  }

  #stop(): number {
    this.#done = true;
    return END;
  }

  /** A varint below `limit`; -1 if it runs past it or over 10 bytes. Values above 2^53 are only skipped. */
  #varint(limit: number, skipOnly = false): number {
    const b = this.b;
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.#p >= limit) return -1;
      const x = b[this.#p++]!;
      if (!skipOnly) v += (x & 127) * scale;
      scale *= 128;
      if (x < 128) return skipOnly ? 0 : v;
    }
    return -1;
  }
}
