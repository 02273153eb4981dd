/**
 * A Map bounded to `max` entries, the least recently touched evicted first. Map keeps insertion order, so a
 * touched entry is deleted and re-inserted, and the first key is always the least recent: O(1) either way.
 * Reads (`get`) do not count as touches: the Check path only reads.
 */
export class BoundedLru<K, V> {
  readonly #map = new Map<K, V>();
  #evicted = 0;

  constructor(readonly max: number) {}

  get size(): number {
    return this.#map.size;
  }

  /** Entries dropped to make room since construction. */
  get evictions(): number {
    return this.#evicted;
  }

  /** Read-only, allocation-free: the order is left as it is. */
  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  /** The entry for `key`, now the most recent; `create(key)` makes it when absent (evicting at the cap). */
  touch(key: K, create: (key: K) => V): V {
    let v = this.#map.get(key);
    if (v !== undefined) this.#map.delete(key);
    else {
      this.#makeRoom();
      v = create(key);
    }
    this.#map.set(key, v);
    return v;
  }

  /** Sets `key` to `value` as the most recent entry (evicting at the cap). */
  set(key: K, value: V): void {
    if (!this.#map.delete(key)) this.#makeRoom();
    this.#map.set(key, value);
  }

  #makeRoom(): void {
    if (this.#map.size < this.max) return;
    this.#map.delete(this.#map.keys().next().value!);
    this.#evicted++;
  }
}
