import type { CodeScore } from '@vqvid/baselines';
import type { FrameScore } from './evaluation';

/** A table as a header and rows of cells, rendered as aligned text or HTML. */
export interface Table {
  header: string[];
  rows: string[][];
}

const fixed = (v: number | undefined, digits: number) => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(digits) : String(v));

/** PSNR / SSIM / sharpness / code accuracy per method. */
export function frameTable(scores: FrameScore[]): Table {
  return {
    header: ['method', 'PSNR dB', 'SSIM', 'sharpness dB', 'code acc.'],
    rows: scores.map((s) => [s.name, fixed(s.psnr, 2), fixed(s.ssim, 3), fixed(s.sharpness, 2), s.codeAccuracy === undefined ? '-' : fixed(s.codeAccuracy, 3)]),
  };
}

/** Bits per code and perplexity per code model. */
export function codeTable(scores: CodeScore[]): Table {
  return { header: ['model', 'bits/code', 'perplexity'], rows: scores.map((s) => [s.name, fixed(s.bitsPerCode, 3), fixed(s.perplexity, 2)]) };
}

/** Columns padded to their widest cell, first column left-aligned, numbers right-aligned. */
export function renderText(t: Table): string {
  const all = [t.header, ...t.rows];
  const widths = t.header.map((_, j) => Math.max(...all.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(t.header), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** The table as an HTML `<table>`. */
export function renderHtml(t: Table): string {
  const head = `<tr>${t.header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const body = t.rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table>\n${head}\n${body}\n</table>`;
}
