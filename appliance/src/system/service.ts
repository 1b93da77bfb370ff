// The systemd unit (rendered from code so installer and repository share one definition) and its
// installation. See systemd.service(5), systemd.exec(5); Type=notify per sd_notify(3).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ServiceInstallResult } from '../types.js';
import { writeFileAtomic } from './files.js';

const run = promisify(execFile);

export interface UnitOptions {
  /** Default `/usr/bin/env roost serve --config <configPath>` (roost on PATH). */
  execStart?: string;
  configPath?: string;
  dataDir?: string;
  user?: string;
  /** The user's primary group (default: a group named like the user, as `useradd --user-group` makes). */
  group?: string;
}

/** ProtectHome=yes hides /home and /root: when the program itself lives there, it must stay readable. */
function protectHomeFor(exec: string): 'yes' | 'read-only' {
  return /(^|\s)\/(home|root)(\/|\s|$)/.test(exec) ? 'read-only' : 'yes';
}

export const DEFAULT_CONFIG_PATH = '/etc/roost/roost.yaml';
export const DEFAULT_DATA_DIR = '/var/lib/roost';

/** systemd's sd_booted(3) test: this directory exists only when systemd is PID 1. */
export function hasSystemd(runDir = '/run/systemd/system'): boolean {
  return existsSync(runDir);
}

export function renderUnit(opts: UnitOptions = {}): string {
  const config = opts.configPath ?? DEFAULT_CONFIG_PATH;
  const data = opts.dataDir ?? DEFAULT_DATA_DIR;
  const user = opts.user ?? 'roost';
  const group = opts.group ?? user;
  const exec = opts.execStart ?? `/usr/bin/env roost serve --config ${config}`;
  return `# Roost XMPP chat server. Written by \`roost setup\`; run it again to change settings.
[Unit]
Description=Roost chat server (XMPP)
After=network-online.target
Wants=network-online.target

[Service]
# The daemon reports READY=1 once every listener is up (possibly through the systemd-notify
# helper, whose PID differs from the main one: hence NotifyAccess=all).
Type=notify
NotifyAccess=all
ExecStart=${exec}
# SIGHUP reloads certificates and configuration without dropping sessions.
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
TimeoutStartSec=120
User=${user}
Group=${group}
UMask=0027
LimitNOFILE=65536
ReadWritePaths=${data}
# Port 80 (HTTP-01 certificate checks) and 443 need the bind capability, nothing else.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=${protectHomeFor(exec)}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
# V8 (Node's JavaScript engine) uses memory protection keys, which systemd 252's @system-service
# set lacks (the daemon died with SIGSYS on pkey_alloc). Any other call outside the set fails with
# EPERM instead of killing the daemon, so a newer Node degrades instead of crashing.
SystemCallFilter=@system-service pkey_alloc pkey_free pkey_mprotect
SystemCallErrorNumber=EPERM
# No MemoryDenyWriteExecute: Node's JIT needs writable+executable memory.

[Install]
WantedBy=multi-user.target
`;
}

/** How to run the daemon by hand when systemd is not there. */
export function manualStartInstructions(opts: UnitOptions = {}): string {
  const config = opts.configPath ?? DEFAULT_CONFIG_PATH;
  const user = opts.user ?? 'roost';
  return (
    'systemd is not running on this machine, so Roost cannot be installed as a service. Start it yourself:\n' +
    `  runuser -u ${user} -- roost serve --config ${config}\n` +
    'and make your init system start that command at boot.'
  );
}

/**
 * Writes the unit, reloads systemd, enables the service at boot and (re)starts it when `start`.
 * Without systemd nothing is installed and `instructions` says how to start the daemon.
 */
export async function installService(
  opts: UnitOptions & {
    unitDir?: string;
    start?: boolean;
    systemdRunDir?: string;
    /** Only settings SIGHUP applies changed: reload a running service (sessions stay) instead of restarting it. */
    reload?: boolean;
  },
): Promise<ServiceInstallResult> {
  if (!hasSystemd(opts.systemdRunDir)) {
    return { systemd: false, installed: false, enabled: false, started: false, instructions: manualStartInstructions(opts) };
  }
  const unitDir = opts.unitDir ?? '/etc/systemd/system';
  const unitPath = join(unitDir, 'roost.service');
  await mkdir(unitDir, { recursive: true });
  const unit = renderUnit(opts);
  const previous = await readFile(unitPath, 'utf8').catch(() => undefined);
  await writeFileAtomic(unitPath, unit, { mode: 0o644 });
  const systemctl = async (...args: string[]): Promise<void> => {
    try {
      await run('systemctl', args, { timeout: 120_000 });
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`systemctl ${args.join(' ')} failed: ${(err.stderr ?? err.message).trim()}`);
    }
  };
  await systemctl('daemon-reload');
  await systemctl('enable', 'roost.service');
  // restart, not start: a re-run of setup must apply the new configuration. A changed unit
  // (program, paths, user) always needs the restart.
  const reload = opts.reload === true && previous === unit;
  if (opts.start !== false) {
    await systemctl(reload ? 'reload-or-restart' : 'restart', 'roost.service');
    await untilActive();
  }
  return { systemd: true, installed: true, enabled: true, started: opts.start !== false, unitPath, ...(opts.start !== false ? { action: reload ? 'reloaded' : 'restarted' } : {}) };
}

/**
 * Waits for the unit to be back to 'active'. `systemctl reload` returns once the SIGHUP is sent;
 * the daemon then says RELOADING=1 and, when the new settings are in force, READY=1, and until
 * then systemd shows 'reloading': setup must not report the reload done before that.
 */
async function untilActive(timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let state = '';
  for (;;) {
    try {
      state = (await run('systemctl', ['is-active', 'roost.service'], { timeout: 10_000 })).stdout.trim();
    } catch (e) {
      // is-active exits non-zero for every state but active; its output still names the state.
      state = ((e as { stdout?: string }).stdout ?? '').trim();
    }
    if (state === 'active') return;
    if (state === 'failed' || state === 'inactive') throw new Error(`roost.service is ${state} after (re)starting it: see journalctl -u roost`);
    if (Date.now() > until) throw new Error(`roost.service is still ${state || 'not active'} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
