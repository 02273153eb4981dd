import { createHash } from 'node:crypto';
import { sipKey, siphash24 } from '../detect/hash.ts';

/** Bits of a password fingerprint: few enough that it identifies no password (docs/detection.md, privacy). */
export const FINGERPRINT_BITS = 20;
const MASK = (1 << FINGERPRINT_BITS) - 1;
/** Set on every fingerprint so that 0 can mean "none" without losing one of the 2^20 values. */
const PRESENT = 1 << FINGERPRINT_BITS;

const sipKeys = new WeakMap<Buffer, Uint32Array>();
const scratch = Buffer.allocUnsafe(1024);

/**
 * A keyed, truncated fingerprint of a submitted password: SipHash-2-4 under a key derived from the install
 * key (a label of its own, so it is unrelated to the username hash), cut to 20 bits. Equal passwords give
 * equal fingerprints within one install; about a million passwords share each value, so even someone holding
 * the key and a fingerprint cannot tell which one was typed. Computed at once on the Check path; the password
 * itself is never stored, logged or sent, and neither is a full hash.
 */
export function passwordFingerprint(key: Buffer, password: string): number {
  let k = sipKeys.get(key);
  if (!k) {
    k = sipKey(createHash('sha256').update('portcullis password fingerprint siphash-2-4\0').update(key).digest().subarray(0, 16));
    sipKeys.set(key, k);
  }
  const h = password.length * 3 <= scratch.length
    ? siphash24(k, scratch, 0, scratch.write(password, 0, 'utf8'))
    : siphash24(k, Buffer.from(password, 'utf8'));
  // Zero the scratch so the password does not linger in a long-lived buffer.
  scratch.fill(0, 0, Math.min(scratch.length, password.length * 3));
  return ((h & MASK) | PRESENT) >>> 0;
}
