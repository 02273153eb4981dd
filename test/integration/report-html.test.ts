import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { COLORS } from '../../src/report/charts.ts';
import { chromiumVersion, dumpDom, screenshot } from '../helpers/chromium.ts';
import { countColour } from '../helpers/png.ts';

// `simulate --report` and `replay --report`, as a user runs them (the CLI as a subprocess), opened in headless
// Chromium: the page renders (its charts are on the screenshot), loads nothing, and every number it shows is the
// number the CLI printed — read back from the DOM Chromium built, and from the bars it drew.
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'portcullis-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function portcullis(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['bin/portcullis.js', ...args], { maxBuffer: 64 << 20 });
}

/** data-figure="key">value< pairs within one part of the DOM. */
function figures(html: string): Map<string, string> {
  const unescape = (s: string) => s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
  return new Map([...html.matchAll(/data-figure="([^"]+)"[^>]*>([^<]*)</g)].map((m) => [m[1]!, unescape(m[2]!)]));
}

/** Sum of the drawn bars of one series. */
const sumSeries = (html: string, series: string) => [...html.matchAll(new RegExp(`data-series="${series}" data-value="(\\d+)"`, 'g'))].reduce((s, m) => s + Number(m[1]), 0);

function selfContained(html: string): void {
  expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"`);
  expect(html).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|\shref=|url\(/i);
  // The only URL is the SVG namespace, which is a name, never fetched.
  expect([...html.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]).filter((u) => u !== 'http://www.w3.org/2000/svg')).toEqual([]);
}

describe(`simulate --report, rendered by ${chromiumVersion()}`, () => {
  const file = join(dir, 'simulate.html');
  const cli = portcullis('simulate', '--scenario', 'brute-force,org-surge', '--scale', '0.05', '--no-fail-on-miss', '--report', file);

  it('writes a self-contained page and says where', async () => {
    const { stderr } = await cli;
    expect(stderr).toContain(`portcullis simulate: report written to ${file}`);
    selfContained(readFileSync(file, 'utf8'));
  }, 180_000);

  it('every figure on the page is the one the CLI printed, and the bars add up to them', async () => {
    const { stdout } = await cli;
    const dom = await dumpDom(file);
    const blocks = stdout.split(/^== /m).slice(1);
    expect(blocks.map((b) => b.split(':')[0])).toEqual(['brute-force', 'org-surge']);
    for (const block of blocks) {
      const name = block.split(':')[0]!;
      const section = /<section class="scenario" data-scenario="([^"]+)">([\s\S]*?)<\/section>/g;
      const html = [...dom.matchAll(section)].find((m) => m[1] === name)![2]!;
      const f = figures(html);
      const grab = (re: RegExp) => {
        const m = re.exec(block);
        expect(m, `${name}: ${re}`).not.toBeNull();
        return m!.slice(1);
      };
      const [events] = grab(/ {3}(\d+) sign-ins simulated/);
      expect(f.get('events')).toBe(events);
      const [signIns, failed, denied, deniedShare] = grab(/legitimate {3}(\d+) sign-ins, ([\d.]+%) failed; denied (\d+) \(([\d.]+%)\)/);
      expect([f.get('legit.signIns'), f.get('legit.failureShare'), f.get('legit.denied'), f.get('legit.deniedShare')]).toEqual([signIns, failed, denied, deniedShare]);
      const [sources, attempts, attackShare, sourcesBlocked, sourcesShare] = grab(/attack {7}(\d+) sources, (\d+) attempts, ([\d.]+%) denied; (\d+) sources denied at least once \(([\d.]+%)\)/);
      expect([f.get('attack.sources'), f.get('attack.attempts'), f.get('attack.deniedShare'), f.get('attack.sourcesBlocked'), f.get('attack.sourcesBlockedShare')]).toEqual([sources, attempts, attackShare, sourcesBlocked, sourcesShare]);
      const [median, p95] = grab(/before the first denial: median (\S+), p95 (\S+)/);
      expect([f.get('attack.beforeFirstBlock.median'), f.get('attack.beforeFirstBlock.p95')]).toEqual([median, p95]);
      const [ten, byTenth, succeeded] = grab(/(\d+) sources made ≥ 10 attempts; (\d+) denied by their 10th\. Attacker sign-ins that succeeded: (\d+)/);
      expect([f.get('attack.withTenAttempts'), f.get('attack.blockedByTenth'), f.get('attack.successesReached')]).toEqual([ten, byTenth, succeeded]);
      const [blocks2] = grab(/blocks {7}(\d+) started/);
      expect(f.get('blocksStarted')).toBe(blocks2);
      const targets = [...block.matchAll(/target {7}(.+): (.+) — (met|MISSED|n\/a)$/gm)];
      expect(targets.length).toBeGreaterThan(0);
      targets.forEach((t, i) => expect([f.get(`target.${i}.value`), f.get(`target.${i}.met`)]).toEqual([t[2], t[3]]));

      // The timeline draws the same traffic: its bars add up to the printed counts and shares.
      expect(sumSeries(html, 'upper')).toBe(Number(attempts));
      expect(`${((sumSeries(html, 'upperRefused') / Number(attempts)) * 100).toFixed(1)}%`).toBe(attackShare);
      expect(sumSeries(html, 'lower')).toBe(Number(signIns));
      expect(sumSeries(html, 'lowerRefused')).toBe(Number(denied));
      // Org Under Attack: one shaded band per declaration, starting where the CLI says.
      const org = /org attack {3}(never declared|declared at ([^;]+);)/.exec(block)!;
      const starts = org[2] ? org[2].split(', ').map((s) => s.replace(' s', '')) : [];
      expect([...html.matchAll(/class="band" data-from-s="([^"]+)"/g)].map((m) => m[1])).toEqual(starts);
      expect(f.get('org.starts')).toBe(starts.length ? starts.map((s) => `${s} s`).join(', ') : 'never');
    }
    // The surge scenario is the one that declares an attack: the band must be there to be drawn.
    expect(dom).toMatch(/data-scenario="org-surge">[\s\S]*?class="band"/);
  }, 180_000);

  it('renders: the screenshot shows refused bars and the Org Under Attack band', async () => {
    await cli;
    const img = await screenshot(file);
    const band = (c: string) => Math.round(255 - 0.55 * (255 - parseInt(c, 16)));
    const bandColour = `#${[1, 3, 5].map((i) => band(COLORS.band.slice(i, i + 2)).toString(16).padStart(2, '0')).join('')}`;
    expect(countColour(img, COLORS.upperRefused), 'refused attack bars').toBeGreaterThan(500);
    expect(countColour(img, COLORS.lower), 'legitimate sign-in bars').toBeGreaterThan(100);
    expect(countColour(img, bandColour, 3), 'the Org Under Attack band').toBeGreaterThan(500);
  }, 180_000);
});

describe(`replay --report, rendered by ${chromiumVersion()}`, () => {
  const file = join(dir, 'replay.html');
  const cli = (async () => {
    await portcullis('simulate', '--scenario', 'brute-force', '--scale', '0.1', '--records-dir', dir);
    return portcullis('replay', join(dir, 'brute-force.csv'), '--set', 'bruteForce.low=2,bruteForce.medium=3,bruteForce.high=4', '--set', 'bruteForce.high=40', '--report', file);
  })();

  it('writes a self-contained page and says where', async () => {
    const { stderr } = await cli;
    expect(stderr).toContain(`portcullis replay: report written to ${file}`);
    selfContained(readFileSync(file, 'utf8'));
  }, 180_000);

  it('the comparison on the page is the one printed, the trade-off plots it, and each timeline adds up to it', async () => {
    const { stdout } = await cli;
    const dom = await dumpDom(file);
    const printed = stdout.split('\n').filter((l) => /^\| (?!Setting|---)/.test(l)).map((l) => l.slice(2, -2).split(' | ').map((c) => c.replace(/^\*\*(.*)\*\*$/, '$1')));
    expect(printed.length).toBe(5); // default, aggressive, the two --set variants, both together
    const f = figures(dom);
    printed.forEach((cells, i) => cells.forEach((c, j) => expect(f.get(`setting.${i}.${j}`), `setting ${i} column ${j}`).toBe(c)));
    const [records] = /: (\d+) records,/.exec(stdout)!.slice(1);

    const points = [...dom.matchAll(/class="point" data-label="([^"]+)" data-x="(\d+)" data-y="(\d+)"/g)];
    expect(points.map((p) => p[1]!.replaceAll('&amp;', '&'))).toEqual(printed.map((c) => c[0]));
    const sections = [...dom.matchAll(/<section class="setting" data-setting="(\d+)">([\s\S]*?)<\/section>/g)];
    expect(sections.length).toBe(printed.length);
    printed.forEach((cells, i) => {
      const [blocked] = /^(\d+) \(/.exec(cells[1]!)!.slice(1);
      const [denied] = /^(\d+) \(/.exec(cells[2]!)!.slice(1);
      const [okDenied, successes] = /^(\d+) of (\d+) /.exec(cells[3]!)!.slice(1);
      expect([points[i]![2], points[i]![3]], `${cells[0]}: x successes denied, y sources blocked`).toEqual([okDenied, blocked]);
      const html = sections[i]![2]!;
      expect(sumSeries(html, 'upper') + sumSeries(html, 'lower'), 'every record is drawn').toBe(Number(records));
      expect(sumSeries(html, 'lower')).toBe(Number(successes));
      expect(sumSeries(html, 'lowerRefused')).toBe(Number(okDenied));
      expect(sumSeries(html, 'upperRefused') + sumSeries(html, 'lowerRefused')).toBe(Number(denied));
      expect(sumSeries(html, 'upperRefused')).toBe(Number(cells[5]));
    });
    // The settings differ: the stricter variant blocks more than the looser one.
    expect(Number(points[2]![3])).toBeGreaterThan(Number(points[3]![3]));
  }, 180_000);

  it('renders: the screenshot shows the trade-off points and denied bars', async () => {
    await cli;
    const img = await screenshot(file);
    expect(countColour(img, COLORS.upperRefused), 'denied bars and the selected point').toBeGreaterThan(500);
    expect(countColour(img, COLORS.lowerRefused), 'the other settings\' points').toBeGreaterThan(30);
  }, 180_000);
});
