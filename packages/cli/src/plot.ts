/** One named line of a chart: y values at x = 1..n (e.g. bits/code per epoch). */
export interface Series {
  /** Label of the line in the legend. */
  name: string;
  /** y value of each point, at x = 1..values.length; non-finite values are skipped (the line joins their neighbours). */
  values: number[];
  /** SVG stroke colour, e.g. '#1f77b4'; default: the next colour of a 5-colour palette by series index. */
  color?: string;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

const escapeXml = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** Round axis ticks between lo and hi (about `count` of them). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/**
 * A small self-contained SVG line chart (inline in the report's HTML), x = 1..n, one polyline per series
 * with a legend; non-finite values are skipped. Width and height in pixels (default 480x260).
 * @example
 * ```ts
 * const svg = lineChartSvg([{ name: 'RCNN', values: bitsPerEpoch }], { title: 'Training', xLabel: 'epoch', yLabel: 'bits/code' });
 * ```
 */
export function lineChartSvg(series: Series[], opts: { title: string; xLabel: string; yLabel: string; width?: number; height?: number }): string {
  const W = opts.width ?? 480;
  const H = opts.height ?? 260;
  const m = { l: 56, r: 12, t: 28, b: 40 };
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const n = Math.max(1, ...series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0;
  let hi = all.length ? Math.max(...all) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const px = (i: number) => m.l + (n === 1 ? 0.5 : i / (n - 1)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${escapeXml(opts.title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#444"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#444"/>`,
  ];
  for (const t of niceTicks(lo, hi)) {
    out.push(`<line x1="${m.l - 4}" y1="${py(t).toFixed(1)}" x2="${W - m.r}" y2="${py(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${m.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(1, n, Math.min(8, n)).filter(Number.isInteger)) {
    out.push(`<text x="${px(t - 1).toFixed(1)}" y="${H - m.b + 14}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.values.map((v, j) => (Number.isFinite(v) ? `${px(j).toFixed(1)},${py(v).toFixed(1)}` : '')).filter(Boolean);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    if (pts.length === 1) out.push(`<circle cx="${pts[0].split(',')[0]}" cy="${pts[0].split(',')[1]}" r="3" fill="${color}"/>`);
    out.push(`<text x="${W - m.r - 4}" y="${m.t + 12 + i * 14}" text-anchor="end" fill="${color}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
