// Sizes and durations as admins write them in roost.yaml: a plain number, or a number with a
// unit ("100MB", "1GiB", "30d", "1h30m"). Units follow SI and IEC strictly (kB/MB/GB are powers
// of 1000, KiB/MiB/GiB powers of 1024) so that what the admin writes is what the server enforces.

export interface UnitProblem {
  message: string;
  hint?: string;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

const SIZE_HINT = 'write a number of bytes or a number with a unit: B, kB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. 100MB';

/** Bytes from a number or a string such as "256KiB"; a problem when it cannot be one. */
export function parseSize(input: number | string): number | UnitProblem {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || !Number.isInteger(input)) return { message: `${input} is not a whole number of bytes`, hint: SIZE_HINT };
    if (input < 0) return { message: `a size cannot be negative (${input})` };
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(input);
  if (!m) return { message: `"${input}" is not a size`, hint: SIZE_HINT };
  const unit = (m[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNITS[unit];
  if (factor === undefined) return { message: `"${m[2]}" is not a size unit`, hint: SIZE_HINT };
  const bytes = Number(m[1]) * factor;
  if (!Number.isInteger(bytes)) return { message: `"${input}" is not a whole number of bytes`, hint: SIZE_HINT };
  if (!Number.isSafeInteger(bytes)) return { message: `"${input}" is too large` };
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

const DURATION_HINT = 'write a number or a number with a unit: ms, s, m (minutes), h, d, w, e.g. 30s, 12h, 30d, 1h30m';

/**
 * Seconds (or, with `bare: 'ms'`, milliseconds) from a number or a string such as "12h".
 * A plain number is taken in the `bare` unit, which is also the unit of the result.
 */
export function parseDuration(input: number | string, bare: 's' | 'ms' = 's'): number | UnitProblem {
  const scale = bare === 'ms' ? 1000 : 1;
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) return { message: `${input} is not a duration`, hint: DURATION_HINT };
    if (input < 0) return { message: `a duration cannot be negative (${input})` };
    return input;
  }
  const s = input.trim();
  if (/^\d+(?:\.\d+)?$/.test(s)) return Number(s);
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/giy;
  let seconds = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while (pos < s.length && (m = part.exec(s)) !== null) {
    const factor = DURATION_UNITS[(m[2] ?? '').toLowerCase()];
    if (factor === undefined) return { message: `"${m[2]}" is not a duration unit`, hint: DURATION_HINT };
    seconds += Number(m[1]) * factor;
    pos = part.lastIndex;
  }
  if (s === '' || pos !== s.length) return { message: `"${input}" is not a duration`, hint: DURATION_HINT };
  // Rounded to a millisecond: "0.1s" * 1000 must not become 100.00000000000001.
  return Math.round(seconds * scale * 1000) / 1000;
}

export function isUnitProblem(v: number | UnitProblem): v is UnitProblem {
  return typeof v !== 'number';
}
