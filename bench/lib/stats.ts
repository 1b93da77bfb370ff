// Figures for the benchmarks: percentiles of samples, and the "median / min / max over runs"
// table several benchmarks print.
import os from 'node:os';

/** The p-th percentile (nearest rank below) of the samples; NaN for none. */
export function pct(samples: number[], p: number): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

export const median = (xs: number[]): number => pct(xs, 50);

/** At most `n` of `xs`, evenly spaced (keeps a worker's reply small). */
export function sample<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs;
  const step = xs.length / n;
  return Array.from({ length: n }, (_, i) => xs[Math.floor(i * step)]!);
}

/** One value per run and figure, printed as median, min and max. */
export class RunFigures {
  readonly rows: Record<string, number[]> = {};

  add(name: string, value: number): void {
    (this.rows[name] ??= []).push(value);
  }

  /**
   * The table: a header row, then one row per figure in the order first added. `format` turns
   * a value of a figure into its text (by default 2 decimals below 10, none above).
   */
  print(labelWidth: number, columnWidth: number, format: (x: number, figure: string) => string = (x) => x.toFixed(x < 10 ? 2 : 0)): void {
    console.log('figure'.padEnd(labelWidth) + 'median'.padStart(columnWidth) + 'min'.padStart(columnWidth) + 'max'.padStart(columnWidth));
    for (const [k, v] of Object.entries(this.rows)) {
      const f = (x: number) => format(x, k).padStart(columnWidth);
      console.log(k.padEnd(labelWidth) + f(median(v)) + f(Math.min(...v)) + f(Math.max(...v)));
    }
  }
}

/** The line that opens a benchmark's report: what ran on which machine, and when. */
export function machineLine(title: string, runs: number): string {
  return `${title}: ${runs} runs, ${os.cpus().length} cores, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
}
