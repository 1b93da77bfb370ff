// systemd-nspawn containers in tests: find the container's systemd (its PID 1, seen from the
// host) to run commands inside with nsenter, and power the container off at the end.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** A child process of `ppid`, read from /proc, or undefined. */
export function childOf(ppid: number): number | undefined {
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // pid (comm) state ppid ...
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) return Number(p);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

const isSystemd = (pid: number | undefined): pid is number => {
  try {
    return pid !== undefined && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'systemd';
  } catch {
    return false;
  }
};

/**
 * The host pid of the container's systemd: the direct child of systemd-nspawn, or (with some
 * options and versions) the child of nspawn's helper. Throws with the console log when nspawn
 * exits or `timeoutMs` passes first.
 */
export async function containerSystemd(nspawn: ChildProcess, timeoutMs: number, log: () => string): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (nspawn.exitCode !== null || Date.now() - started > timeoutMs) throw new Error(`the container did not boot:\n${log()}`);
    const child = nspawn.pid ? childOf(nspawn.pid) : undefined;
    if (isSystemd(child)) return child;
    const inner = child === undefined ? undefined : childOf(child);
    if (isSystemd(inner)) return inner;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** SIGTERM to systemd-nspawn powers the container off cleanly; SIGKILL after `graceMs`. */
export async function powerOff(nspawn: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!nspawn || nspawn.exitCode !== null) return;
  const exited = new Promise((r) => nspawn.once('exit', r));
  nspawn.kill('SIGTERM');
  const t = setTimeout(() => nspawn.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}
