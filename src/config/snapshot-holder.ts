import type { Snapshot } from '../decide/snapshot.ts';

/** Holds the current snapshot. Swapping is a single reference assignment, so readers never see a mix. */
export class SnapshotHolder {
  #current: Snapshot | undefined;
  readonly #listeners: Array<(s: Snapshot, previous: Snapshot | undefined) => void> = [];

  get current(): Snapshot | undefined {
    return this.#current;
  }

  get ready(): boolean {
    return this.#current !== undefined;
  }

  swap(next: Snapshot): void {
    const previous = this.#current;
    this.#current = next;
    for (const l of this.#listeners) l(next, previous);
  }

  onSwap(listener: (s: Snapshot, previous: Snapshot | undefined) => void): void {
    this.#listeners.push(listener);
  }
}
