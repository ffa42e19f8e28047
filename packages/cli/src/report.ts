import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '@vqvid/core';
import type { Table } from './tables';
import { renderHtml } from './tables';

/** A figure of the report: a PNG written next to index.html, or inline SVG. */
export type Figure = { title: string; caption: string } & ({ png: Uint8Array; file: string; pixelated?: boolean } | { svg: string });

/** A titled section with optional text, tables and figures. */
export interface Section {
  title: string;
  text?: string;
  tables?: Array<{ caption: string; table: Table }>;
  figures?: Figure[];
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}figure{margin:1em 0}figcaption{color:#555;font-size:.9em}
figure img{max-width:100%;height:auto}img.pixelated{image-rendering:pixelated}code{background:#f4f4f4;padding:0 .2em}`;

function figureHtml(f: Figure): string {
  const body = 'svg' in f
    ? f.svg
    : `<img src="${esc(f.file)}" alt="${esc(f.title)}"${f.pixelated ? ' class="pixelated" style="width:min(100%,512px)"' : ''}>`;
  return `<figure>${body}<figcaption><b>${esc(f.title)}.</b> ${esc(f.caption)}</figcaption></figure>`;
}

/** The report page: title, intro, then each section's text, tables and figures. */
export function reportHtml(title: string, intro: string, sections: Section[]): string {
  const parts = [`<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>${STYLE}</style></head><body>`];
  parts.push(`<h1>${esc(title)}</h1><p>${esc(intro)}</p>`);
  for (const s of sections) {
    parts.push(`<h2>${esc(s.title)}</h2>`);
    if (s.text) parts.push(`<p>${esc(s.text)}</p>`);
    for (const t of s.tables ?? []) parts.push(`<p><b>${esc(t.caption)}</b></p>${renderHtml(t.table)}`);
    for (const f of s.figures ?? []) parts.push(figureHtml(f));
  }
  parts.push('<p><a href="report.json">report.json</a> holds every number of this page.</p></body></html>');
  return parts.join('\n');
}

/** Writes index.html, report.json and the PNG figures into `dir` (created if needed). */
export async function writeReport(dir: string, title: string, intro: string, sections: Section[], json: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const s of sections) {
    for (const f of s.figures ?? []) if ('png' in f) await writeFileAtomic(join(dir, f.file), f.png);
  }
  await writeFileAtomic(join(dir, 'report.json'), JSON.stringify(json, null, 2));
  const index = join(dir, 'index.html');
  await writeFileAtomic(index, reportHtml(title, intro, sections));
  return index;
}
