import { describe, expect, it } from 'vitest';
import { firstFormValues } from '../../src/decide/form.ts';

/** The definition: URLSearchParams.get, for each name. */
function reference(body: string, names: readonly string[]): Array<string | undefined> {
  const form = new URLSearchParams(body);
  return names.map((n) => form.get(n) ?? undefined);
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('firstFormValues reads a form body as URLSearchParams does', () => {
  const names = ['username', 'email', 'password', 'a b', 'é', ''];

  it('on ordinary and awkward bodies', () => {
    const bodies = [
      '', '&', '&&', '=', '==', 'username', 'username=', 'username=alice', 'username=alice&username=bob',
      'username=&username=bob', 'email=a%40b.c&password=p%26w', 'username=a+b', 'a+b=1', 'a%20b=2', 'user%6Eame=carol',
      '%C3%A9=accent', 'é=direct', '=empty-name', 'username=%', 'username=%zz%4', 'username=%E2%82', 'username=\ud800lone',
      'password==x=y', 'x=1&&username=dave&', 'USERNAME=upper&username=lower', 'username=a;b', 'username=%ED%A0%80',
      'username=%C3', 'username=%EF%BB%BFbom', 'username=a%2Bb+c', 'user%3Dname=x&username=y', 'email=%F0%9F%98%80', 'username=%c3%a9',
    ];
    const found: Array<string | undefined> = [];
    for (const body of bodies) {
      firstFormValues(body, names, found);
      expect(found.slice(0, names.length), JSON.stringify(body)).toEqual(reference(body, names));
    }
  });

  it('on thousands of random bodies', () => {
    const rand = seeded(42);
    const parts = ['username', 'email', 'password', 'user%6Eame', 'a+b', 'a%20b', '%C3%A9', 'é', '=', '&', '%', '+', '%2', 'x', 'alice', '%40', '\ud83d\ude00', '\udc00', '', '%ED%A0%80', '%EF%BB%BF', '%3D', '%2B', '%C3', '%c3%a9'];
    const found: Array<string | undefined> = [];
    let hits = 0;
    for (let i = 0; i < 5000; i++) {
      let body = '';
      const len = Math.floor(rand() * 12);
      for (let j = 0; j < len; j++) body += parts[Math.floor(rand() * parts.length)];
      firstFormValues(body, names, found);
      const want = reference(body, names);
      expect(found.slice(0, names.length), JSON.stringify(body)).toEqual(want);
      if (want.some((v) => v !== undefined)) hits++;
    }
    expect(hits).toBeGreaterThan(500); // the bodies must name the fields often enough to test anything
  });
});
