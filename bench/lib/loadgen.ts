// Load generators as child processes of a benchmark script: the script forks itself with
// --worker <job as JSON>; the child runs the job and sends { result }. Between the two, the
// child may send { ready } once (set up, waiting) and answer commands the parent sends.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Worker<R> {
  child: ChildProcess;
  /** The job's result; rejects when the child exits with an error. */
  result: Promise<R>;
  /** The child's { ready } message. */
  ready: Promise<any>;
  /** Sends a command and resolves with the next message that is neither ready nor the result. */
  ask(cmd: string): Promise<any>;
}

/** Forks `script` (the benchmark's import.meta.url) as a load generator for `job`. */
export function worker<R = any>(script: string, job: unknown): Worker<R> {
  const child = fork(fileURLToPath(script), ['--worker', JSON.stringify(job)], { stdio: 'inherit' });
  let onReady!: (m: any) => void;
  const ready = new Promise<any>((r) => (onReady = r));
  let pending: ((m: any) => void) | undefined;
  const result = new Promise<R>((resolve, reject) => {
    child.on('message', (m: any) => {
      if (m && 'result' in m) return resolve(m.result as R);
      if (m && 'ready' in m) return onReady(m);
      const p = pending;
      pending = undefined;
      p?.(m);
    });
    child.on('exit', (code) => (code ? reject(new Error(`load generator exited ${code}`)) : undefined));
  });
  return {
    child,
    result,
    ready,
    ask: (cmd) =>
      new Promise((res) => {
        pending = res;
        child.send(cmd);
      }),
  };
}

/**
 * The child's side: with a --worker job, runs it, sends the result and exits (true); in the
 * parent (no job) returns false at once.
 */
export async function runIfWorker<J>(job: string | undefined, run: (job: J) => Promise<unknown>): Promise<boolean> {
  if (!job) return false;
  const result = await run(JSON.parse(job) as J);
  process.send!({ result }, () => process.exit(0));
  return true;
}

/**
 * Paced sending: every 5 ms, tick(n) with the whole messages due at `perSecond` (the
 * fraction carries over), for `seconds`.
 */
export function pace(perSecond: number, seconds: number, tick: (n: number) => void): void {
  const perTick = perSecond / 200;
  let credit = 0;
  const timer = setInterval(() => {
    credit += perTick;
    const n = Math.floor(credit);
    credit -= n;
    if (n > 0) tick(n);
  }, 5);
  setTimeout(() => clearInterval(timer), seconds * 1000);
}

/**
 * Calls onBody with the text of each complete <body>…</body> in `text` and returns the index
 * after the last one (the caller keeps the rest for the next chunk).
 */
export function eachBody(text: string, onBody: (body: string) => void): number {
  let at = 0;
  for (;;) {
    const m = text.indexOf('<body>', at);
    if (m < 0) break;
    const end = text.indexOf('</body>', m);
    if (end < 0) break;
    onBody(text.slice(m + 6, end));
    at = end + 7;
  }
  return at;
}
