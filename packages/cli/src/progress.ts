import type { OnProgress, ProgressEvent } from '@vqvid/core';

/** Where progress goes: stderr, and whether it is a terminal (bars) or a pipe/file (plain lines). */
export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
  columns?: number;
}

/** How progress is shown: redrawn bars, occasional plain lines, or nothing. */
export type ProgressMode = 'bar' | 'lines' | 'off';

const LINE_INTERVAL_MS = 5000;
const BAR_INTERVAL_MS = 100;

const LABELS: Record<string, string> = { bitsPerCode: 'bits/code', valBits: 'val bits/code' };

function formatNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 || a < 0.01 ? v.toExponential(2) : v.toPrecision(4);
}

/** "m:ss" (or "h:mm:ss") of a duration in seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

function fractionOf(e: ProgressEvent): number | undefined {
  if (e.fraction !== undefined) return Math.min(1, Math.max(0, e.fraction));
  return e.total ? Math.min(1, e.done / e.total) : undefined;
}

/** One status line: stage, bar, percent, counts, the event's metrics and the ETA. */
export function formatProgress(e: ProgressEvent, elapsedS: number, barWidth: number): string {
  const f = fractionOf(e);
  const parts = [e.stage.padEnd(7)];
  if (f !== undefined && barWidth > 0) {
    const full = Math.round(f * barWidth);
    parts.push(`[${'#'.repeat(full)}${'-'.repeat(barWidth - full)}]`);
  }
  if (f !== undefined) parts.push(`${(f * 100).toFixed(0).padStart(3)}%`);
  parts.push(e.total !== undefined ? `${e.done}/${e.total}` : String(e.done));
  for (const [k, v] of Object.entries(e.metrics ?? {})) parts.push(`${LABELS[k] ?? k} ${formatNumber(v)}`);
  if (f !== undefined && f > 0 && f < 1 && elapsedS > 0) parts.push(`ETA ${formatDuration((elapsedS * (1 - f)) / f)}`);
  if (e.message) parts.push(e.message);
  return parts.join('  ');
}

/** Training events shown the way people read them: 1-based epoch, loss in nats and in bits/code. */
function enrich(e: ProgressEvent): ProgressEvent {
  const m = e.metrics;
  if ((e.stage !== 'train' && e.stage !== 'epoch') || !m || m.loss === undefined) return e;
  const metrics: Record<string, number> = {};
  // an epoch summary's `done` already counts epochs
  if (m.epoch !== undefined && e.stage === 'train') metrics.epoch = m.epoch + 1;
  Object.assign(metrics, { loss: m.loss, bitsPerCode: m.loss / Math.LN2 });
  if (m.valBits !== undefined) metrics.valBits = m.valBits;
  return { ...e, metrics };
}

/**
 * Turns `onProgress` events into output on `sink`: a bar redrawn in place (TTY), a plain line at most
 * every few seconds per stage plus one when a stage completes (pipes), or nothing.
 */
export class ProgressReporter {
  private stage = '';
  private stageStart = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly mode: ProgressMode,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** The callback to hand to long operations. */
  readonly onProgress: OnProgress = (event) => {
    if (this.mode === 'off') return;
    // Per-epoch summaries would break the training bar in two; as plain lines they are the useful ones.
    if (event.stage === 'epoch') {
      if (this.mode === 'lines') this.sink.write(formatProgress(enrich(event), 0, 0) + '\n');
      return;
    }
    const e = enrich(event);
    const t = this.now();
    if (e.stage !== this.stage) {
      this.finishLine();
      this.stage = e.stage;
      this.stageStart = t;
      this.lastDraw = -Infinity;
    }
    const complete = fractionOf(e) === 1;
    const interval = this.mode === 'bar' ? BAR_INTERVAL_MS : LINE_INTERVAL_MS;
    if (!complete && t - this.lastDraw < interval) return;
    this.lastDraw = t;
    const elapsed = (t - this.stageStart) / 1000;
    if (this.mode === 'bar') {
      const cols = this.sink.columns ?? 80;
      // The numbers matter more than the bar: it shrinks (or goes) when the terminal is narrow.
      const room = cols - 1 - formatProgress(e, elapsed, 0).length - 4;
      const line = formatProgress(e, elapsed, room >= 8 ? Math.min(20, room) : 0).slice(0, cols - 1);
      this.sink.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.sink.write(formatProgress(e, elapsed, 0) + '\n');
    }
  };

  /** Ends a bar line so that what follows starts on a fresh line. */
  finishLine(): void {
    if (this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}
