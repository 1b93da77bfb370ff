// Driving Ink screens in tests: keys as a terminal sends them, and waiting for a frame.
import { expect } from 'vitest';

export const KEY = {
  enter: '\r',
  esc: '\u001b',
  up: '\u001b[A',
  down: '\u001b[B',
  right: '\u001b[C',
  left: '\u001b[D',
  backspace: '\u007f',
  tab: '\t',
  ctrlC: '\u0003',
} as const;

const tick = (ms = 30): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Driven {
  stdin: { write(s: string): void };
  lastFrame(): string | undefined;
}

/** Sends keys one at a time, letting React render between them (as a person types). */
export async function press(app: Driven, ...keys: string[]): Promise<void> {
  for (const k of keys) {
    app.stdin.write(k);
    await tick();
  }
}

export async function type(app: Driven, text: string): Promise<void> {
  app.stdin.write(text);
  await tick();
}

/** The frame with Ink's line wrapping undone (a wrapped sentence reads as one line). */
export function frame(app: Driven): string {
  return (app.lastFrame() ?? '').replace(/[ \t]*\n[ \t]*/g, ' ');
}

/** Waits until the (unwrapped) frame matches (async work such as DNS checks renders later). */
export async function frameMatching(app: Driven, re: RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = frame(app);
    if (re.test(f)) return f;
    if (Date.now() > deadline) {
      expect(f, `frame never matched ${re}`).toMatch(re);
      return f;
    }
    await tick(50);
  }
}
