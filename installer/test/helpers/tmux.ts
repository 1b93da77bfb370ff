// A real terminal for the real `roost setup`: tmux (installed from Debian when missing) runs the
// command, send-keys types, capture-pane reads the screen.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ensureDebianPackage } from '../../../appliance/test/helpers/infra.js';

export interface Tmux {
  name: string;
  /** The visible screen, lines joined with spaces (a wrapped sentence reads as one line). */
  screen(): string;
  /** The raw pane (for QR codes and layout). */
  raw(): string;
  keys(...keys: string[]): Promise<void>;
  /** Types literal text. */
  text(s: string): Promise<void>;
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(): void;
}

export function startTmux(command: string, opts: { width?: number; height?: number; cwd?: string; env?: Record<string, string> } = {}): Tmux {
  const bin = ensureDebianPackage('tmux', ['tmux']);
  const name = `roost-${randomBytes(4).toString('hex')}`;
  // A private server socket (-L): nothing to do with a tmux the admin of this machine may run.
  const t = (...args: string[]): string => execFileSync(bin, ['-L', name, ...args], { encoding: 'utf8', cwd: opts.cwd, env: { ...process.env, ...opts.env } });
  // The shell stays after the command ends, so its last screen and exit code can be read.
  t('new-session', '-d', '-s', name, '-x', String(opts.width ?? 160), '-y', String(opts.height ?? 60), `${command}; echo "[exited with $?]"; sleep 3600`);
  const raw = (): string => t('capture-pane', '-p', '-t', name);
  const screen = (): string => raw().replace(/[ \t]*\n[ \t]*/g, ' ');
  const pause = (ms = 150): Promise<void> => new Promise((r) => setTimeout(r, ms));
  return {
    name,
    screen,
    raw,
    async keys(...keys) {
      for (const k of keys) {
        t('send-keys', '-t', name, k);
        await pause();
      }
    },
    async text(s) {
      t('send-keys', '-t', name, '-l', s);
      await pause();
    },
    async waitFor(re, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const s = screen();
        if (re.test(s)) return s;
        if (Date.now() > deadline) {
          // What runs in the pane tells a slow start (node) from a hung or finished command.
          // pane_current_command names the process group's leader (the shell), so list the
          // shell's whole process tree with states and CPU time as well.
          const pid = t('display-message', '-p', '-t', name, '#{pane_pid}').trim();
          throw new Error(`the terminal never showed ${re} within ${timeoutMs} ms; processes:\n${processTree(pid)}\nit shows:\n${raw().trimEnd()}`);
        }
        await pause(200);
      }
    },
    kill() {
      try {
        t('kill-server');
      } catch {
        /* already gone */
      }
    },
  };
}

/** `ps` lines (state, elapsed and CPU seconds, kernel wait channel) for pid and its descendants. */
function processTree(pid: string): string {
  try {
    const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,stat=,etimes=,times=,wchan:24=,args='], { encoding: 'utf8' }).split('\n');
    const parent = new Map(rows.map((r) => r.trim().split(/\s+/)).map((f) => [f[0] ?? '', f[1] ?? '']));
    const inTree = (p: string): boolean => {
      for (let cur = p, n = 0; cur && n < 50; cur = parent.get(cur) ?? '', n++) if (cur === pid) return true;
      return false;
    };
    return rows.filter((r) => inTree(r.trim().split(/\s+/)[0] ?? '')).join('\n') || `(no process ${pid})`;
  } catch (e) {
    return `(ps failed: ${(e as Error).message})`;
  }
}
