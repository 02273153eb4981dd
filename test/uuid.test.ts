import { describe, expect, it } from 'vitest';
import { randomUuid } from '../src/uuid.ts';

describe('randomUuid', () => {
  it('makes RFC 9562 version 4 UUIDs, each different, with every random digit varying', () => {
    const seen = new Set<string>();
    const digits = Array.from({ length: 36 }, () => new Set<string>());
    for (let i = 0; i < 100_000; i++) {
      const id = randomUuid();
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      seen.add(id);
      if (i < 2000) for (let j = 0; j < 36; j++) digits[j]!.add(id[j]!);
    }
    expect(seen.size).toBe(100_000);
    // Across batches of pooled randomness too (256 per batch): every hex position takes all 16 values,
    // but the version (14) and the dashes, and the variant digit (19) takes exactly 8, 9, a, b.
    for (let j = 0; j < 36; j++) {
      const expected = [8, 13, 18, 23].includes(j) ? 1 : j === 14 ? 1 : j === 19 ? 4 : 16;
      expect(digits[j]!.size, `position ${j}`).toBe(expected);
    }
  });
});
