/** What the framer reports besides complete frames. */
export type FrameProblem = 'oversize' | 'malformed';

/**
 * Splits a syslog TCP stream into messages (RFC 6587), detecting the framing per message:
 * - octet counting: "<len> <msg>" (a message starting with a digit); a length over maxBytes is skipped
 *   byte-exactly without buffering it; a broken length prefix ends the stream (no way to resync);
 * - non-transparent: messages end at LF (a CR before it is dropped); a message growing past maxBytes is
 *   dropped up to its LF.
 * Memory per connection is bounded by maxBytes whatever the peer sends.
 */
export class SyslogFramer {
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes still to skip of an oversize octet-counted frame. */
  #skip = 0;
  /** Discarding a too-long LF-terminated frame until its LF. */
  #discarding = false;

  constructor(
    private readonly maxBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
    private readonly onProblem: (p: FrameProblem) => void,
  ) {}

  /** Feeds bytes; returns false when the stream cannot be framed any more (close the connection). */
  push(chunk: Buffer): boolean {
    const data = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#buf = Buffer.alloc(0);
    let i = 0;
    while (i < data.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      if (this.#discarding) {
        const lf = data.indexOf(10, i);
        if (lf === -1) return true; // still inside the long frame; nothing kept
        this.#discarding = false;
        i = lf + 1;
        continue;
      }
      const c = data[i]!;
      if (c === 10 || c === 13 || c === 0) { // stray separators between frames
        i++;
        continue;
      }
      if (c >= 0x30 && c <= 0x39) {
        // Octet counting: up to 7 digits then one space.
        let j = i;
        let len = 0;
        while (j < data.length && j - i < 8 && data[j]! >= 0x30 && data[j]! <= 0x39) len = len * 10 + (data[j++]! - 0x30);
        if (j === data.length && j - i < 8) return this.#keep(data, i); // prefix incomplete
        if (data[j] !== 0x20 || j - i > 7) {
          this.onProblem('malformed');
          return false;
        }
        const start = j + 1;
        if (len > this.maxBytes) {
          this.onProblem('oversize');
          this.#skip = len;
          i = start;
          continue;
        }
        if (data.length - start < len) return this.#keep(data, i);
        if (len > 0) this.onFrame(data.subarray(start, start + len));
        i = start + len;
        continue;
      }
      const lf = data.indexOf(10, i);
      if (lf === -1) {
        if (data.length - i > this.maxBytes) {
          this.onProblem('oversize');
          this.#discarding = true;
          return true;
        }
        return this.#keep(data, i);
      }
      let end = lf;
      if (end > i && data[end - 1] === 13) end--;
      if (end - i > this.maxBytes) this.onProblem('oversize');
      else this.onFrame(data.subarray(i, end));
      i = lf + 1;
    }
    return true;
  }

  #keep(data: Buffer, from: number): boolean {
    // Copy: a subarray would pin the whole chunk it came from.
    this.#buf = Buffer.from(data.subarray(from));
    return true;
  }
}
