// The picture of an XEP-0158 'ocr' challenge (XEP-0158: CAPTCHA Forms, v1.0.1,
// https://xmpp.org/extensions/xep-0158.html §6.3): digits drawn with uneven size, slant, position
// and waviness over a noisy background with crossing lines, encoded as PNG by pngjs (pure
// JavaScript: nothing native to build on a Raspberry Pi). The answer itself comes from the
// caller (crypto-random); only the drawing uses Math.random.
import pngjs from 'pngjs';
import { DIGITS, type Point } from './glyphs.js';

const { PNG } = pngjs;

export const CAPTCHA_WIDTH = 220;
export const CAPTCHA_HEIGHT = 80;

type Rng = () => number;

const between = (rng: Rng, a: number, b: number): number => a + (b - a) * rng();

/** Ink coverage (0..1) of every pixel, filled by stamping anti-aliased discs along strokes. */
class Coverage {
  readonly px: Float32Array;
  constructor(
    readonly w: number,
    readonly h: number,
  ) {
    this.px = new Float32Array(w * h);
  }

  disc(x: number, y: number, r: number): void {
    const x0 = Math.max(0, Math.floor(x - r - 1));
    const x1 = Math.min(this.w - 1, Math.ceil(x + r + 1));
    const y0 = Math.max(0, Math.floor(y - r - 1));
    const y1 = Math.min(this.h - 1, Math.ceil(y + r + 1));
    for (let py = y0; py <= y1; py++) {
      for (let px = x0; px <= x1; px++) {
        const dx = px + 0.5 - x;
        const dy = py + 0.5 - y;
        const d = Math.sqrt(dx * dx + dy * dy);
        const c = Math.min(1, Math.max(0, r - d + 0.5));
        const i = py * this.w + px;
        if (c > this.px[i]!) this.px[i] = c;
      }
    }
  }

  line(a: Point, b: Point, r: number): void {
    const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
    const n = Math.max(1, Math.ceil(len / 0.6));
    for (let i = 0; i <= n; i++) this.disc(a[0] + ((b[0] - a[0]) * i) / n, a[1] + ((b[1] - a[1]) * i) / n, r);
  }

  polyline(points: readonly Point[], r: number): void {
    for (let i = 1; i < points.length; i++) this.line(points[i - 1]!, points[i]!, r);
  }
}

/** Draws `text` (digits) and returns the PNG file. */
export function renderCaptchaPng(text: string, rng: Rng = Math.random): Buffer {
  const w = CAPTCHA_WIDTH;
  const h = CAPTCHA_HEIGHT;
  const ink = new Coverage(w, h);
  const noise = new Coverage(w, h);

  // A gentle wave bends the whole line of digits, so no two pictures of a digit are alike.
  const waveA = between(rng, 2, 4.5);
  const waveP = between(rng, 0, Math.PI * 2);
  const waveL = between(rng, 28, 48);
  const bend = ([x, y]: Point): Point => [x + waveA * 0.4 * Math.sin(y / 9 + waveP), y + waveA * Math.sin(x / waveL + waveP)];

  const cell = (w - 24) / text.length;
  [...text].forEach((ch, i) => {
    const strokes = DIGITS[ch];
    if (!strokes) throw new Error(`no glyph for ${JSON.stringify(ch)}`);
    const gw = between(rng, 17, 24);
    const gh = between(rng, 36, 46);
    const cx = 12 + cell * (i + 0.5) + between(rng, -3, 3);
    const cy = h / 2 + between(rng, -7, 7);
    const turn = between(rng, -0.3, 0.3);
    const shear = between(rng, -0.25, 0.25);
    const r = between(rng, 1.7, 2.4);
    const cos = Math.cos(turn);
    const sin = Math.sin(turn);
    for (const s of strokes) {
      const pts = s.map(([ux, uy]): Point => {
        const lx = (ux - 0.5) * gw + shear * (uy - 0.5) * gh;
        const ly = (uy - 0.5) * gh;
        return bend([cx + lx * cos - ly * sin, cy + lx * sin + ly * cos]);
      });
      ink.polyline(pts, r);
    }
  });

  // Crossing curves through the digits make cutting the picture into single digits harder.
  const curves = 2 + Math.floor(rng() * 2);
  for (let k = 0; k < curves; k++) {
    const y0 = between(rng, 15, h - 15);
    const amp = between(rng, 6, 16);
    const len = between(rng, 40, 90);
    const ph = between(rng, 0, Math.PI * 2);
    const pts: Point[] = [];
    for (let x = 0; x <= w; x += 3) pts.push([x, y0 + amp * Math.sin(x / len + ph)]);
    noise.polyline(pts, between(rng, 0.7, 1.1));
  }
  for (let k = 0; k < 120; k++) noise.disc(rng() * w, rng() * h, between(rng, 0.4, 1.0));

  // Grey levels only, in 16 steps, on a smooth background: the file stays small enough for
  // XEP-0231 (data SHOULD NOT exceed 8 KB) while the digits keep soft edges.
  const inkGrey = between(rng, 20, 70);
  const bgFrom = between(rng, 225, 250);
  const bgTo = between(rng, 225, 250);
  const png = new PNG({ width: w, height: h, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const data = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const bg = bgFrom + ((bgTo - bgFrom) * x) / w;
      const c = Math.round(Math.max(ink.px[i]!, noise.px[i]! * 0.75) * 15) / 15;
      data[i] = Math.round(bg * (1 - c) + inkGrey * c);
    }
  }
  png.data = data;
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
}
