import { syntheticVideo } from '@vqvid/video';
import type { Video } from '@vqvid/core';
import { compareInBrowser } from './compare';
import { decodeVideoFile, drawValues } from './frames';
import { DEMO, type DemoResult, runDemo, stopwatch } from './pipeline';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const setText = (id: string, text: string) => ($(id).textContent = text);
const say = (message: string) => setText('detail', message);

/** The embedded default: a deterministic clip of textured shapes bouncing over a textured background. */
const synthetic = (): Video => syntheticVideo({ kind: 'bouncing', width: 96, height: 96, frames: 24, seed: 1 });

function show(result: DemoResult, source: string, seconds: number): void {
  for (const id of ['original', 'quantized', 'predicted'] as const) {
    const { width, height, data } = result[id];
    drawValues($(id), { width, height, data }, { range: 'fixed', colormap: 'gray' });
  }
  // One pixel per cell; the stylesheet scales it to the frames' size.
  const cells = { width: result.cols, height: result.rows, data: result.entropy };
  drawValues($('uncertainty'), cells, { range: [0, Math.log2(DEMO.k)], colormap: 'heat' });
  setText('backend', result.backend);
  $('backend').title = result.backendReason ?? '';
  setText('input-desc', source);
  setText('k', String(DEMO.k));
  setText('psnr', result.psnrQuantized.toFixed(2));
  setText('psnr-pred', result.psnrPredicted.toFixed(2));
  setText('bits', result.bitsPerCode.toFixed(3));
  setText('entropy-changing', result.entropyChanging.toFixed(3));
  setText('entropy-steady', result.entropySteady.toFixed(3));
  setText('model', `rCNN (@vqvid/model), ${DEMO.epochs} epochs on tfjs ${result.modelBackend}; heat map max = log2 K = ${Math.log2(DEMO.k)} bits`);
  setText('time', seconds.toFixed(1));
}

let busy = false;

/** Runs the pipeline (and, the first time, the backend comparison); #status ends 'done' or 'error'. */
async function run(load: () => Promise<Video>, source: string, withCompare: boolean): Promise<void> {
  if (busy) return;
  busy = true;
  setText('status', 'running');
  const t0 = performance.now();
  try {
    const video = await load();
    const desc = `${source}: ${video.width}x${video.height}, ${video.frames} frames`;
    const result = await runDemo(video, say);
    show(result, desc, (performance.now() - t0) / 1000);
    const seconds: Record<string, number> = { ...result.seconds };
    if (withCompare) {
      say('comparing assignment backends');
      const clock = stopwatch();
      setText('compare', JSON.stringify(await compareInBrowser(), null, 2));
      seconds.compare = clock();
    }
    setText('timings', JSON.stringify(seconds, (_, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v)));
    say('');
    setText('status', 'done');
  } catch (e) {
    console.error(e);
    say(e instanceof Error ? e.message : String(e));
    setText('status', 'error');
  } finally {
    busy = false;
  }
}

function wireInput(): void {
  const fromFile = (file: File) => run(() => decodeVideoFile(file, { width: 128, maxFrames: 24, step: 0.2 }), file.name, false);
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (file) void fromFile(file);
  });
  $('synthetic').addEventListener('click', () => void run(async () => synthetic(), 'synthetic clip', false));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void fromFile(file);
  });
}

wireInput();
void run(async () => synthetic(), 'synthetic clip', true);
