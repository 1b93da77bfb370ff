// Step 7: make it so. Validate the configuration before anything is written, write it atomically
// (the previous one kept as roost.yaml.bak), give the data to the service user, create the first
// administrator through the roost CLI, install + start the service, wait for it, run the checks.
// The data directory is only ever added to, never emptied.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, fchownSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { liveReloadable, parseConfigText, type RoostConfig } from '../../../server/src/config/index.js';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { runChecks, type CheckReport } from '../../../appliance/src/check/run.js';
import { chownTree, ensureDataDirs, ensureSystemUser, writeFileAtomic } from '../../../appliance/src/system/files.js';
import { waitForReady } from '../../../appliance/src/system/ready.js';
import { type UnitOptions, hasSystemd, installService, manualStartInstructions } from '../../../appliance/src/system/service.js';
import type { ReadyResult, ServiceInstallResult } from '../../../appliance/src/types.js';
import { type Answers, deepMerge, isPlainObject } from '../answers.js';
import { certDir, renderConfig, writeSetupMemory } from '../config-output.js';
import { createInvite, inviteQr, inviteUri, saveInvite, type Invite } from '../invite.js';
import { cliFailure, findRoostBin, runRoost } from '../roost-cli.js';
import type { SetupState } from './context.js';

export type ApplyStatus = 'running' | 'ok' | 'warn' | 'fail' | 'skip';

export interface ApplyEvent {
  id: 'config' | 'dirs' | 'write' | 'admin' | 'invite' | 'service' | 'ready' | 'check';
  status: ApplyStatus;
  message: string;
}

export interface ApplyResult {
  ok: boolean;
  /** The configuration file was written (false: nothing on disk changed). */
  written: boolean;
  configPath: string;
  /** The previous configuration, when there was one. */
  backupPath?: string;
  invite?: Invite & { uri: string; qr: string; path: string };
  service?: ServiceInstallResult;
  /** Without systemd, with --start-daemon: the daemon we started. */
  spawnedPid?: number;
  instructions?: string;
  ready?: ReadyResult;
  checks?: CheckReport;
  /** What went wrong or stays red, in plain words. */
  problems: string[];
  c2s: { host: string; port: number };
}

const obj = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

export function c2sListener(a: Answers, existing?: Record<string, unknown>): { host: string; port: number } {
  const l = obj(obj(deepMerge<Record<string, unknown>>(existing ?? {}, a.overrides).listeners).c2s);
  const address = typeof l.address === 'string' && !['0.0.0.0', '::', ''].includes(l.address) ? l.address : '127.0.0.1';
  return { host: address, port: typeof l.port === 'number' ? l.port : 5222 };
}

/** The systemd unit `roost setup` installs: this node and this installation's bin/roost.js, the chosen paths and user. */
export function serviceUnitOptions(a: Answers, bin: string, owner: { uid: number; gid: number } | null): UnitOptions {
  const user = owner ? a.service.user : userInfo().username;
  return {
    execStart: `${process.execPath} ${bin} serve --config ${a.configPath}`,
    configPath: a.configPath,
    dataDir: a.dataDir,
    user,
    group: primaryGroupName(user) ?? user,
  };
}

/** The user's primary group name (nobody's is nogroup on Debian; useradd --user-group makes one named like the user). */
function primaryGroupName(user: string): string | undefined {
  try {
    return execFileSync('id', ['-gn', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The daemon we started earlier without systemd (its pid file), if it still runs. */
function previousDaemon(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    // The pid may have been reused by something else.
    return /roost/.test(cmd) && /\bserve\b/.test(cmd) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function stopPrevious(pidFile: string): void {
  const pid = previousDaemon(pidFile);
  if (pid) process.kill(pid, 'SIGTERM');
}

/**
 * Whether the change can be applied by a reload (SIGHUP: certificates, limits, registration...)
 * without dropping sessions, judged by the daemon's own rules (liveReloadable).
 */
async function reloadable(configPath: string, next: RoostConfig): Promise<{ ok: boolean; why?: string }> {
  let previous: RoostConfig;
  try {
    previous = parseConfigText(await readFile(configPath, 'utf8'), configPath);
  } catch {
    return { ok: false, why: 'no valid previous configuration' };
  }
  const { needsRestart } = liveReloadable(previous, next);
  return needsRestart.length ? { ok: false, why: `${needsRestart.slice(0, 3).join(', ')} changed` } : { ok: true };
}

async function spawnDaemon(bin: string, a: Answers, owner: { uid: number; gid: number } | null): Promise<number> {
  const pidFile = join(a.dataDir, 'roost.pid');
  stopPrevious(pidFile);
  // Give the old process a moment to free the ports.
  await new Promise((r) => setTimeout(r, 300));
  const log = openSync(join(a.dataDir, 'roost.log'), 'a', 0o640);
  try {
    if (owner) fchownSync(log, owner.uid, owner.gid);
    const child = spawn(process.execPath, [bin, 'serve', '--config', a.configPath], {
      detached: true,
      stdio: ['ignore', log, log],
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    child.unref();
    if (!child.pid) throw new Error('the daemon did not start');
    await writeFile(pidFile, `${child.pid}\n`, { mode: 0o644 });
    return child.pid;
  } finally {
    closeSync(log);
  }
}

/**
 * `cancelled` is asked between the sub-steps (never inside one): Ctrl-C stops the run there, so
 * each file is either the old or the new one and nothing runs on after the admin quit.
 */
export async function applyStep(state: SetupState, onEvent: (e: ApplyEvent) => void = () => {}, opts: { cancelled?: () => boolean } = {}): Promise<ApplyResult> {
  const a = state.answers;
  const o = state.options;
  const problems: string[] = [];
  const c2s = c2sListener(a, state.existing);
  const result: ApplyResult = { ok: false, written: false, configPath: a.configPath, problems, c2s };
  const ev = (id: ApplyEvent['id'], status: ApplyStatus, message: string): void => onEvent({ id, status, message });
  const fail = (id: ApplyEvent['id'], message: string): ApplyResult => {
    ev(id, 'fail', message);
    problems.push(message);
    return result;
  };
  const cert = state.cert;
  if (!cert) return fail('config', 'no certificate was chosen (certificate step)');

  // 1. Validate first: nothing is written when the configuration is refused.
  ev('config', 'running', 'checking the configuration');
  let text: string;
  let next: RoostConfig;
  try {
    ({ text, config: next } = renderConfig(state.existing, a, { certificate: cert.certPath, key: cert.keyPath }));
  } catch (e) {
    return fail('config', `the configuration was refused: ${(e as Error).message}`);
  }
  ev('config', 'ok', 'the configuration is valid');

  const stopHere = (id: ApplyEvent['id']): ApplyResult | undefined => (opts.cancelled?.() ? fail(id, 'cancelled (Ctrl-C) before this step; the steps above are done') : undefined);
  // 2. Data directories, owned by the service user.
  const c2 = stopHere('dirs');
  if (c2) return c2;
  ev('dirs', 'running', `preparing ${a.dataDir}`);
  let owner: { uid: number; gid: number } | null;
  try {
    owner = await ensureSystemUser(a.service.user, a.dataDir);
    await ensureDataDirs([a.dataDir, join(a.dataDir, 'certs'), certDir(a), join(a.dataDir, 'acme')], owner);
    await writeSetupMemory(
      a.dataDir,
      { ...(a.host ? { host: a.host } : {}), publicIpv4: a.publicIpv4, publicIpv6: a.publicIpv6, certificateNames: cert.names, ...(owner ? { serviceUser: a.service.user } : {}) },
      owner,
    );
    if (owner) await chownTree(a.dataDir, owner);
  } catch (e) {
    return fail('dirs', `could not prepare ${a.dataDir}: ${(e as Error).message}`);
  }
  ev('dirs', 'ok', `${a.dataDir} is ready${owner ? ` (owned by ${a.service.user})` : ` (owned by ${userInfo().username}: not root)`}`);

  // Judged before the file is replaced: the running daemon has the old one.
  const reload = state.existing ? await reloadable(a.configPath, next) : { ok: false };

  // 3. The configuration itself, atomically; the old one stays as .bak.
  const c3 = stopHere('write');
  if (c3) return c3;
  ev('write', 'running', `writing ${a.configPath}`);
  try {
    await mkdir(dirname(a.configPath), { recursive: true, mode: 0o755 });
    const hadOld = state.existing !== undefined;
    // It holds secrets (LDAP bind password, TURN secret): readable by root and the service only.
    await writeFileAtomic(a.configPath, text, { mode: 0o640, ...(owner ? { uid: 0, gid: owner.gid } : {}) });
    if (hadOld) result.backupPath = `${a.configPath}.bak`;
    result.written = true;
  } catch (e) {
    return fail('write', `could not write ${a.configPath}: ${(e as Error).message}`);
  }
  ev('write', 'ok', `wrote ${a.configPath}${result.backupPath ? ` (previous version: ${result.backupPath})` : ''}`);

  let bin: string;
  try {
    bin = o.roostBin ?? findRoostBin();
  } catch (e) {
    return fail('admin', (e as Error).message);
  }

  // 4. The first administrator (local accounts).
  const c4 = stopHere('admin');
  if (c4) return c4;
  let inviter: string | undefined;
  if (a.accounts === 'local' && a.admin.username && a.admin.password) {
    const jid = `${a.admin.username}@${a.domain}`;
    ev('admin', 'running', `creating the administrator ${jid}`);
    const list = await runRoost(bin, ['user', 'list', '--config', a.configPath], { owner });
    const exists = list.exitCode === 0 && list.stdout.split(/\s+/).some((w) => w === jid || w === a.admin.username);
    const r = exists
      ? await runRoost(bin, ['user', 'passwd', a.admin.username, '--config', a.configPath], { owner, input: `${a.admin.password}\n` })
      : await runRoost(bin, ['user', 'add', a.admin.username, '--config', a.configPath], { owner, input: `${a.admin.password}\n` });
    if (r.exitCode !== 0) problems.push(cliFailure(`${exists ? 'setting the password of' : 'creating'} ${jid}`, r));
    else inviter = jid;
    ev('admin', r.exitCode === 0 ? 'ok' : 'fail', r.exitCode === 0 ? `${jid} ${exists ? 'already existed; password updated' : 'created'}` : (problems[problems.length - 1] as string));
  } else if (a.accounts === 'ldap') {
    inviter = state.ldap?.adminGroupMembers[0] ? `${state.ldap.adminGroupMembers[0]}@${a.domain}` : undefined;
    ev('admin', 'skip', `administrators: members of the directory group ${a.ldap.adminGroup || 'jabberadmins'}`);
  } else ev('admin', 'skip', 'no administrator account created (none was asked for)');

  // 5. The first invitation. It creates an account only where in-band registration may (local
  // accounts, registration not closed); otherwise it is a contact invitation from the first
  // administrator, or there is none (the daemon would refuse a registration link).
  const canRegister = a.accounts === 'local' && a.registration !== 'closed';
  if (!canRegister && !inviter) {
    ev('invite', 'skip', a.accounts === 'ldap' ? 'no invitation link: accounts come from the directory' : 'no invitation link: registration is closed (add people with roost user add)');
  } else {
    try {
      const inv = createInvite(a.domain, inviter, new Date(), o.inviteDays, canRegister ? 'register' : 'roster');
      const path = await saveInvite(a.dataDir, inv, owner);
      const uri = inviteUri(inv);
      result.invite = { ...inv, uri, qr: await inviteQr(uri), path };
      ev('invite', 'ok', `${canRegister ? 'invitation' : 'contact invitation'} link ready (valid until ${inv.expires.slice(0, 10)})`);
    } catch (e) {
      problems.push(`could not store the invitation: ${(e as Error).message}`);
      ev('invite', 'warn', problems[problems.length - 1] as string);
    }
  }

  // 6. The service.
  const c6 = stopHere('service');
  if (c6) return c6;
  const useSystemd = a.service.systemd === 'auto' ? hasSystemd() : a.service.systemd;
  const unit = serviceUnitOptions(a, bin, owner);
  let started = false;
  const hidden = [a.dataDir, a.configPath].find((p) => /^\/(var\/)?tmp(\/|$)/.test(p));
  if (useSystemd && hidden)
    // The unit has PrivateTmp=yes: the service gets an empty /tmp of its own.
    return fail('service', `${hidden} is under /tmp, which the service cannot see (it has a private /tmp): choose another place, such as /var/lib/roost and /etc/roost/roost.yaml`);
  if (useSystemd) {
    ev('service', 'running', a.service.start ? 'installing and starting the roost service' : 'installing the roost service');
    try {
      result.service = await installService({ ...unit, start: a.service.start, reload: reload.ok });
      started = result.service.started;
      const how = result.service.action === 'reloaded' ? ', reloaded (sessions kept)' : started ? ', started' : '';
      ev('service', 'ok', `service installed and enabled at boot (${result.service.unitPath})${how}`);
    } catch (e) {
      return fail('service', (e as Error).message);
    }
  } else if (a.service.start && a.service.spawnWithoutSystemd) {
    const running = previousDaemon(join(a.dataDir, 'roost.pid'));
    ev('service', 'running', running && reload.ok ? 'reloading the daemon' : 'starting the daemon in the background');
    try {
      if (running && reload.ok) {
        // SIGHUP: the daemon re-reads the configuration and certificates; open sessions stay.
        process.kill(running, 'SIGHUP');
        result.spawnedPid = running;
        started = true;
        ev('service', 'ok', `daemon reloaded (pid ${running}): sessions kept`);
      } else {
        result.spawnedPid = await spawnDaemon(bin, a, owner);
        started = true;
        ev('service', 'ok', `daemon started (pid ${result.spawnedPid}, log ${join(a.dataDir, 'roost.log')})${running && reload.why ? ` (restarted: ${reload.why})` : ''}`);
      }
    } catch (e) {
      return fail('service', `could not start the daemon: ${(e as Error).message}`);
    }
  } else {
    result.instructions = a.service.start ? manualStartInstructions(unit) : `Start the daemon with: roost serve --config ${a.configPath}`;
    ev('service', 'skip', a.service.start ? 'systemd is not running here: start the daemon yourself (see below)' : 'not started (--no-start)');
  }

  // 7. Wait until chat apps could connect.
  if (started) {
    ev('ready', 'running', `waiting for the server to answer on port ${c2s.port}`);
    result.ready = await waitForReady({ host: c2s.host, port: c2s.port, domain: a.domain, timeoutMs: o.readyTimeoutMs });
    if (!result.ready.ok) {
      const log = result.spawnedPid ? ` (see ${join(a.dataDir, 'roost.log')})` : useSystemd ? ' (see journalctl -u roost)' : '';
      problems.push(`${result.ready.error ?? 'the server did not answer'}${log}`);
      ev('ready', 'fail', problems[problems.length - 1] as string);
    } else ev('ready', 'ok', `the server answers (${result.ready.ms} ms)`);
  }

  // 8. roost check, on what was just written.
  ev('check', 'running', 'running roost check');
  try {
    result.checks = await runChecks({
      configPath: a.configPath,
      sections: started ? ['config', 'dns', 'certs', 'ports'] : ['config', 'dns', 'certs'],
      ...(o.resolver ? { resolver: { timeoutMs: o.dnsTimeoutMs, ...o.resolver } } : {}),
      connectHost: c2s.host,
    });
    const red = result.checks.results.filter((r) => r.ok === false);
    // The DNS step already reported (and the admin accepted) its records: no second copy.
    for (const r of red) if (!(r.section === 'dns' && state.dns)) problems.push(`${r.section}: ${r.message}`);
    const dnsRed = state.dns ? red.filter((r) => r.section === 'dns').length : 0;
    ev('check', red.length ? 'warn' : 'ok', red.length ? `roost check: ${red.length} thing(s) red${dnsRed ? ` (${dnsRed} of them DNS records, listed on the DNS screen)` : ''}` : 'roost check: all good');
  } catch (e) {
    problems.push(`roost check failed: ${(e as Error).message}`);
    ev('check', 'warn', problems[problems.length - 1] as string);
  }
  // Red DNS records do not fail the setup (the admin chose to go on; Done lists them).
  result.ok = !problems.some((p) => !p.startsWith('dns: ')) && (!started || result.ready?.ok === true);
  return result;
}
