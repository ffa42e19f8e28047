/** Height of a glyph in pixels; glyphs are 3 wide with 1 pixel between them. */
export const GLYPH_H = 5;

/** A 3x5 pixel font: rows top to bottom, '1' = ink. Lower case is drawn as upper case. */
const GLYPHS: Record<string, string> = {
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110',
  E: '111100110100111', F: '111100110100100', G: '011100101101011', H: '101101111101101',
  I: '111010010010111', J: '001001001101010', K: '101101110101101', L: '100100100100111',
  M: '101111111101101', N: '110101101101101', O: '010101101101010', P: '110101110100100',
  Q: '010101101110011', R: '110101110101101', S: '011100010001110', T: '111010010010010',
  U: '101101101101111', V: '101101101101010', W: '101101111111101', X: '101101010101101',
  Y: '101101010010010', Z: '111001010100111',
  0: '111101101101111', 1: '010110010010111', 2: '110001010100111', 3: '110001010001110',
  4: '101101111001001', 5: '111100110001110', 6: '011100111101111', 7: '111001010010010',
  8: '111101111101111', 9: '111101111001110',
  ' ': '000000000000000', '.': '000000000000010', ':': '000010000010000', '-': '000000111000000',
  _: '000000000000111', '/': '001001010100100', '(': '010100100100010', ')': '010001001001010',
  '=': '000111000111000', '%': '101001010100101', '+': '000010111010000', '?': '110001010000010',
};

/** Width in pixels of `text` drawn by {@link drawText} at `scale` (pixels per glyph pixel). */
export function textWidth(text: string, scale = 1): number {
  return text.length === 0 ? 0 : (4 * text.length - 1) * scale;
}

/**
 * Draws `text` into an RGB buffer of row width `width` at (x0, y0) in gray level `ink`, each glyph pixel a
 * `scale` x `scale` block, clipped to the buffer.
 */
export function drawText(rgb: Uint8Array, width: number, text: string, x0: number, y0: number, ink: number, scale = 1): void {
  const height = rgb.length / (3 * width);
  [...text.toUpperCase()].forEach((c, k) => {
    const g = GLYPHS[c] ?? GLYPHS['?'];
    for (let i = 0; i < 15; i++) {
      if (g[i] !== '1') continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const x = x0 + (4 * k + (i % 3)) * scale + dx;
          const y = y0 + Math.floor(i / 3) * scale + dy;
          if (x < 0 || x >= width || y < 0 || y >= height) continue;
          rgb.fill(ink, 3 * (y * width + x), 3 * (y * width + x) + 3);
        }
      }
    }
  });
}
