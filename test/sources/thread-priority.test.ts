import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lowerThreadPriority } from '../../src/sources/thread-priority.ts';

/** Field 19 of /proc/<pid>/task/<tid>/stat: the thread's nice value (after the parenthesised name). */
function niceOf(tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('lowerThreadPriority', () => {
  it('sets nice 19 on the calling thread and on no other thread of the process', () => {
    const others = readdirSync('/proc/self/task').map(Number);
    const before = new Map(others.map((t) => [t, niceOf(t)]));
    const tid = lowerThreadPriority();
    expect(tid).toBeGreaterThan(0);
    expect(niceOf(tid!)).toBe(19);
    const changed = others.filter((t) => t !== tid && niceOf(t) !== before.get(t));
    expect(changed).toEqual([]);
    expect(others.length).toBeGreaterThan(1); // V8 and libuv threads: the check above has something to look at
  });
});
