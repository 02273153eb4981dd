import { esc } from './html.ts';

// Charts as inline SVG, drawn from the same numbers the report's tables show. Every drawn value is also in a
// data- attribute, so a test (or a curious reader) can add them up against the tables.

/** One time bucket: two series above the axis (e.g. attack attempts, and those refused), two below. */
export interface Bucket {
  readonly startS: number;
  readonly upper: number;
  readonly upperRefused: number;
  readonly lower: number;
  readonly lowerRefused: number;
}

/** An Org Under Attack period, in seconds from the start; toS null: still declared at the end. */
export interface Band {
  readonly fromS: number;
  readonly toS: number | null;
}

export interface TimelineSpec {
  readonly buckets: readonly Bucket[];
  readonly bucketS: number;
  readonly durationS: number;
  readonly bands: readonly Band[];
  /** Legend names of upper, upperRefused, lower, lowerRefused. */
  readonly names: readonly [string, string, string, string];
}

export const COLORS = Object.freeze({ upper: '#f4a582', upperRefused: '#b2182b', lower: '#92c5de', lowerRefused: '#2166ac', band: '#fee08b' });

const W = 920;
const PAD = { left: 56, right: 16, top: 28, bottom: 34 };

/** A bucket width that gives about `target` buckets: 1, 2, 5, 10 … seconds, minutes, hours. */
export function niceBucketS(durationS: number, target = 120): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
  return steps.find((s) => durationS / s <= target) ?? 86400;
}

function timeLabel(s: number, spanS: number): string {
  if (spanS <= 600) return `${Math.round(s)} s`;
  if (spanS <= 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(s % 3600 === 0 ? 0 : 1)} h`;
}

export function timelineChart(spec: TimelineSpec): string {
  const h = 300;
  const plotW = W - PAD.left - PAD.right;
  const mid = PAD.top + (h - PAD.top - PAD.bottom) * 0.62;
  const upH = mid - PAD.top;
  const lowH = h - PAD.bottom - mid;
  const maxUp = Math.max(1, ...spec.buckets.map((b) => b.upper));
  const maxLow = Math.max(1, ...spec.buckets.map((b) => b.lower));
  const span = Math.max(spec.durationS, spec.bucketS);
  const x = (s: number) => PAD.left + (Math.min(Math.max(s, 0), span) / span) * plotW;
  const bw = Math.max(1, (spec.bucketS / span) * plotW - 1);
  const r = (v: number) => Math.round(v * 10) / 10;
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img" class="timeline">`];
  for (const b of spec.bands) {
    const to = b.toS ?? span;
    out.push(`<rect class="band" data-from-s="${b.fromS}" data-to-s="${b.toS ?? ''}" x="${r(x(b.fromS))}" y="${PAD.top}" width="${r(Math.max(1, x(to) - x(b.fromS)))}" height="${h - PAD.top - PAD.bottom}" fill="${COLORS.band}" fill-opacity="0.55"><title>Org Under Attack ${esc(timeLabel(b.fromS, span))} – ${b.toS === null ? 'end' : esc(timeLabel(b.toS, span))}</title></rect>`);
  }
  for (const b of spec.buckets) {
    const x0 = r(x(b.startS));
    const parts = [`<g class="bucket" data-start-s="${b.startS}"><title>${esc(timeLabel(b.startS, span))}: ${b.upper} ${esc(spec.names[0])}, ${b.upperRefused} ${esc(spec.names[1])}; ${b.lower} ${esc(spec.names[2])}, ${b.lowerRefused} ${esc(spec.names[3])}</title>`];
    const bar = (series: keyof typeof COLORS, v: number, up: boolean, max: number, span2: number) => {
      const len = (v / max) * span2;
      parts.push(`<rect data-series="${series}" data-value="${v}" x="${x0}" y="${r(up ? mid - len : mid)}" width="${r(bw)}" height="${r(len)}" fill="${COLORS[series]}"/>`);
    };
    bar('upper', b.upper, true, maxUp, upH);
    bar('upperRefused', b.upperRefused, true, maxUp, upH);
    bar('lower', b.lower, false, maxLow, lowH);
    bar('lowerRefused', b.lowerRefused, false, maxLow, lowH);
    parts.push('</g>');
    out.push(parts.join(''));
  }
  // Axes: time along the middle line, counts at the left (upper and lower scales differ).
  out.push(`<line x1="${PAD.left}" y1="${r(mid)}" x2="${W - PAD.right}" y2="${r(mid)}" stroke="#57606a"/>`);
  for (let i = 0; i <= 6; i++) {
    const s = (span * i) / 6;
    out.push(`<text x="${r(x(s))}" y="${h - PAD.bottom + 16}" text-anchor="${i === 0 ? 'start' : i === 6 ? 'end' : 'middle'}">${esc(timeLabel(s, span))}</text>`);
  }
  out.push(`<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end">${maxUp}</text><text x="${PAD.left - 6}" y="${r(mid + 4)}" text-anchor="end">0</text><text x="${PAD.left - 6}" y="${h - PAD.bottom}" text-anchor="end">${maxLow}</text>`);
  const legend = [['upper', spec.names[0]], ['upperRefused', spec.names[1]], ['lower', spec.names[2]], ['lowerRefused', spec.names[3]], ['band', 'Org Under Attack']] as const;
  let lx = PAD.left;
  for (const [k, name] of legend) {
    out.push(`<rect x="${lx}" y="8" width="10" height="10" fill="${COLORS[k]}"/><text x="${lx + 14}" y="17">${esc(name)}</text>`);
    lx += 24 + name.length * 6.2;
  }
  out.push(`<text x="${W - PAD.right}" y="${h - 4}" text-anchor="end">one bar per ${esc(timeLabel(spec.bucketS, 1))}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** One setting of a trade-off: x (cost, e.g. legitimate sign-ins denied) against y (gain, e.g. sources blocked). */
export interface TradeoffPoint {
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly selected?: boolean;
}

export function tradeoffChart(points: readonly TradeoffPoint[], xName: string, yName: string): string {
  const h = 320;
  const plotW = W - PAD.left - PAD.right - 160;
  const plotH = h - PAD.top - PAD.bottom;
  const maxX = Math.max(1, ...points.map((p) => p.x));
  const maxY = Math.max(1, ...points.map((p) => p.y));
  const x = (v: number) => PAD.left + (v / maxX) * plotW;
  const y = (v: number) => h - PAD.bottom - (v / maxY) * plotH;
  const r = (v: number) => Math.round(v * 10) / 10;
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" role="img" class="tradeoff">`];
  out.push(`<line x1="${PAD.left}" y1="${h - PAD.bottom}" x2="${PAD.left + plotW}" y2="${h - PAD.bottom}" stroke="#57606a"/><line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${h - PAD.bottom}" stroke="#57606a"/>`);
  out.push(`<text x="${PAD.left + plotW / 2}" y="${h - 6}" text-anchor="middle">${esc(xName)} → (0 … ${maxX})</text>`);
  out.push(`<text x="14" y="${PAD.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 14 ${PAD.top + plotH / 2})">${esc(yName)} → (0 … ${maxY})</text>`);
  for (const p of points) {
    out.push(`<g class="point" data-label="${esc(p.label)}" data-x="${p.x}" data-y="${p.y}"><title>${esc(p.label)}: ${p.x} ${esc(xName)}, ${p.y} ${esc(yName)}</title>`
      + `<circle cx="${r(x(p.x))}" cy="${r(y(p.y))}" r="${p.selected ? 7 : 5}" fill="${p.selected ? COLORS.upperRefused : COLORS.lowerRefused}"/></g>`);
  }
  // Settings that land on the same spot share one label, one name per line.
  const spots = new Map<string, TradeoffPoint[]>();
  for (const p of points) spots.set(`${p.x},${p.y}`, [...(spots.get(`${p.x},${p.y}`) ?? []), p]);
  for (const group of spots.values()) {
    const p0 = group[0]!;
    const lines = group.map((p, j) => `<tspan x="${r(x(p0.x) + 10)}" dy="${j === 0 ? 0 : 13}"${p.selected ? ' class="selected"' : ''}>${esc(p.label)}</tspan>`).join('');
    out.push(`<text x="${r(x(p0.x) + 10)}" y="${r(y(p0.y) + 4)}">${lines}</text>`);
  }
  out.push('</svg>');
  return out.join('\n');
}
