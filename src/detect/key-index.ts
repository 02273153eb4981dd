import { keyHash } from './hash.ts';

/**
 * Open-addressing index from a numeric key to a dense entry id in [0, size).
 *
 * Entries stay dense so their columns (owned by the caller) hold no holes: removal moves the last entry
 * into the hole and calls `onMove(from, to)` so the owner copies its columns. Slots are one Int32 each,
 * packing a hash tag and the entry's distance from its home slot above the id: a probe rarely touches the key
 * array, and a deletion (backward shift, no tombstones) reads only slots: at 80% load a cluster is tens of
 * slots long, and fetching every entry's key to find its home cost ~6 µs per eviction at 1M entries.
 * The distance saturates (a longer one is computed from the key). Slots = 1.25 x capacity -> 5 bytes per entry.
 */
export class KeyIndex {
  readonly capacity: number;
  /** Key of each dense entry. */
  readonly keys: Float64Array;
  private count = 0;
  private readonly slots: Int32Array;
  private readonly nSlots: number;
  private readonly idBits: number;
  private readonly idMask: number;
  private readonly tagMask: number;
  private readonly tagShift: number;
  /** Saturated distance value (and mask): "this far or further; ask the key". */
  private readonly distMax: number;

  constructor(
    capacity: number,
    private readonly onMove: (from: number, to: number) => void,
    /** Bits for the home distance (default up to 5); tests pass 1 to exercise the saturated path. */
    distanceBits?: number,
  ) {
    this.capacity = capacity;
    this.keys = new Float64Array(capacity);
    this.nSlots = Math.ceil(capacity * 1.25) + 1;
    this.slots = new Int32Array(this.nSlots);
    this.idBits = Math.max(1, Math.ceil(Math.log2(capacity + 1)));
    if (this.idBits > 28) throw new RangeError('KeyIndex capacity too large');
    this.idMask = (1 << this.idBits) - 1;
    const free = 32 - this.idBits;
    const distBits = Math.max(1, Math.min(distanceBits ?? 5, free >> 1));
    this.distMax = (1 << distBits) - 1;
    this.tagShift = this.idBits + distBits;
    this.tagMask = free - distBits >= 31 ? 0x7fffffff : (1 << (free - distBits)) - 1;
  }

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.keys.byteLength + this.slots.byteLength;
  }

  private home(h: number): number {
    return ((h / 4294967296) * this.nSlots) | 0;
  }

  /** Entry id of `key`, or -1. */
  find(key: number): number {
    const h = keyHash(key);
    const tag = h & this.tagMask;
    const slots = this.slots;
    const n = this.nSlots;
    let i = this.home(h);
    for (;;) {
      const v = slots[i]!;
      if (v === 0) return -1;
      if (v >>> this.tagShift === tag) {
        const id = (v & this.idMask) - 1;
        if (this.keys[id] === key) return id;
      }
      if (++i === n) i = 0;
    }
  }

  /** Adds a key known to be absent; the caller checks `size < capacity`. Returns its id. */
  insert(key: number): number {
    const id = this.count++;
    this.keys[id] = key;
    this.putSlot(key, id);
    return id;
  }

  /** Gives entry `id` a new key in place (eviction: the slot is reused, columns are the caller's). */
  rekey(id: number, key: number): void {
    this.deleteSlot(this.slotOf(id));
    this.keys[id] = key;
    this.putSlot(key, id);
  }

  /** Removes entry `id`; the last entry moves into its place (onMove is called before this returns). */
  remove(id: number): void {
    this.deleteSlot(this.slotOf(id));
    const last = --this.count;
    if (id !== last) {
      const s = this.slotOf(last);
      this.slots[s] = (this.slots[s]! & ~this.idMask) | (id + 1);
      this.keys[id] = this.keys[last]!;
      this.onMove(last, id);
    }
  }

  private putSlot(key: number, id: number): void {
    const h = keyHash(key);
    let i = this.home(h);
    let d = 0;
    while (this.slots[i] !== 0) {
      if (++i === this.nSlots) i = 0;
      d++;
    }
    this.slots[i] = ((h & this.tagMask) << this.tagShift) | (Math.min(d, this.distMax) << this.idBits) | (id + 1);
  }

  private slotOf(id: number): number {
    let i = this.home(keyHash(this.keys[id]!));
    for (;;) {
      const v = this.slots[i]!;
      if (v === 0) throw new Error('KeyIndex corrupt: entry has no slot');
      if ((v & this.idMask) === id + 1) return i;
      if (++i === this.nSlots) i = 0;
    }
  }

  private deleteSlot(hole: number): void {
    const slots = this.slots;
    const n = this.nSlots;
    const idBits = this.idBits;
    const max = this.distMax;
    let j = hole;
    for (;;) {
      if (++j === n) j = 0;
      const v = slots[j]!;
      if (v === 0) break;
      let d = (v >>> idBits) & max;
      if (d === max) d = (j - this.home(keyHash(this.keys[(v & this.idMask) - 1]!)) + n) % n;
      // Move v back into the hole unless its home lies cyclically in (hole, j], i.e. unless it is nearer than the hole.
      const gap = (j - hole + n) % n;
      if (d >= gap) {
        slots[hole] = (v & ~(max << idBits)) | (Math.min(d - gap, max) << idBits);
        hole = j;
      }
    }
    slots[hole] = 0;
  }
}
