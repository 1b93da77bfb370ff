// sd_notify(3) for `Type=notify` units: READY=1 once listening, RELOADING=1/READY=1 around a
// reload, STOPPING=1 at shutdown.
//
// The notification socket is a Unix datagram socket, which Node cannot open without a native
// addon; systemd's own `systemd-notify` tool sends the datagram instead (the unit sets
// NotifyAccess=all because the tool's PID is not the daemon's). The tool waits (BARRIER=1) until
// systemd has read the message, so systemd can still tell which unit sent it; callers must not
// hold signal handling up on it. Outside systemd (NOTIFY_SOCKET unset) every call is a no-op.
import { execFile } from 'node:child_process';
import type { Logger } from './log.js';

export function sdNotify(state: 'READY=1' | 'RELOADING=1' | 'STOPPING=1', log?: Logger, status?: string): Promise<void> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve();
  const args = [`--pid=${process.pid}`];
  if (state === 'READY=1') args.push('--ready');
  else args.push(state);
  if (status) args.push(`--status=${status}`);
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { timeout: 5000 }, (err) => {
      // Without the tool a Type=notify unit never becomes ready: systemd kills it after TimeoutStartSec.
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') log?.error('could not notify systemd: systemd-notify is not installed (Debian package systemd)', { state });
      else if (err) log?.warn('could not notify systemd', { state, error: err.message });
      resolve();
    });
  });
}
