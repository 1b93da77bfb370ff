// Stroke shapes of the digits drawn in the CAPTCHA picture (captcha/image.ts): polylines in a unit
// box, x from 0 (left) to 1, y from 0 (top) to 1. Hand-made so the picture needs no font file on
// the machine; strokes rather than a bitmap font so each digit can be bent, turned and drawn at
// any size.

export type Point = readonly [number, number];
export type Stroke = readonly Point[];

/** Points on an elliptic arc; angles in degrees, 0 = right, 90 = down (screen coordinates). */
function arc(cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 14): Point[] {
  const out: Point[] = [];
  for (let i = 0; i <= steps; i++) {
    const a = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    out.push([cx + rx * Math.cos(a), cy + ry * Math.sin(a)]);
  }
  return out;
}

export const DIGITS: Readonly<Record<string, readonly Stroke[]>> = {
  '0': [arc(0.5, 0.5, 0.36, 0.48, 0, 360, 28)],
  '1': [
    [
      [0.25, 0.22],
      [0.55, 0.02],
      [0.55, 0.98],
    ],
    [
      [0.28, 0.98],
      [0.82, 0.98],
    ],
  ],
  '2': [
    [...arc(0.5, 0.28, 0.34, 0.26, 190, 360), ...arc(0.5, 0.28, 0.34, 0.3, 0, 50, 5), [0.12, 0.98], [0.9, 0.98]],
  ],
  '3': [
    [...arc(0.48, 0.26, 0.32, 0.24, 200, 450)],
    [...arc(0.48, 0.73, 0.36, 0.25, 270, 520)],
  ],
  '4': [
    [
      [0.7, 0.98],
      [0.7, 0.02],
      [0.08, 0.68],
      [0.94, 0.68],
    ],
  ],
  '5': [
    [[0.86, 0.03], [0.2, 0.03], [0.15, 0.45], ...arc(0.5, 0.68, 0.36, 0.29, 235, 500)],
  ],
  '6': [
    [...arc(0.52, 0.45, 0.36, 0.45, 290, 180, 12), ...arc(0.5, 0.7, 0.35, 0.28, 180, 540, 24)],
  ],
  '7': [
    [
      [0.08, 0.03],
      [0.92, 0.03],
      [0.38, 0.98],
    ],
    [
      [0.3, 0.52],
      [0.72, 0.52],
    ],
  ],
  '8': [arc(0.5, 0.26, 0.28, 0.24, 90, 450, 22), arc(0.5, 0.74, 0.35, 0.25, -90, 270, 24)],
  '9': [
    [...arc(0.5, 0.3, 0.35, 0.28, 0, 360, 24), ...arc(0.48, 0.55, 0.36, 0.45, 0, 110, 10)],
  ],
};
