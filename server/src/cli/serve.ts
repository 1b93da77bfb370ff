// `roost serve`: runs the daemon until SIGTERM/SIGINT; SIGHUP reloads.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { loadConfig, ConfigError } from '../config/load.js';
import { RoostServer } from '../core/server.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { sdNotify } from '../util/sd-notify.js';
import type { CliIo } from './main.js';
import { configOrExit, configPathOf, parseArgs, UsageError } from './options.js';

export async function runServe(argv: string[], io: CliIo): Promise<number> {
  let path: string | undefined;
  try {
    const p = parseArgs(argv, ['config']);
    if (p.positional.length) throw new UsageError(`unexpected argument "${p.positional[0]}"`);
    path = configPathOf(p);
  } catch (e) {
    io.stderr.write(`roost serve: ${(e as Error).message}\nusage: roost serve [--config FILE]\n`);
    return 2;
  }
  const config = await configOrExit(path, io.stderr);
  if (typeof config === 'number') return config;
  const logSettings = { current: { level: config.log.level, format: config.log.format } };
  const log = switchableLogger(logSettings);

  // Signals are taken from the start: node's default for SIGTERM/SIGHUP is to die on the spot,
  // which during start-up or while systemd-notify runs would skip the graceful stop (and a
  // SIGHUP would kill the daemon instead of reloading it).
  let server: RoostServer | undefined;
  let stopSignal: string | undefined;
  let stopped: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (stopped = resolve));
  const stop = (signal: string): void => {
    if (stopSignal) return;
    stopSignal = signal;
    log.info('signal received, shutting down', { signal });
    if (!server) return; // still starting: stopped once start() returns
    const s = server;
    // STOPPING=1 goes out while the streams close, not after (the process may be gone by then).
    Promise.all([sdNotify('STOPPING=1', log), s.stop()]).then(
      () => stopped(0),
      (e) => {
        log.error('shutdown failed', { error: String(e) });
        stopped(1);
      },
    );
  };
  // One reload at a time, in signal order: a second SIGHUP during a reload runs after it.
  let reloading: Promise<void> = Promise.resolve();
  const onHup = (): void => {
    if (!server || stopSignal) return log.info('SIGHUP ignored: the server is not running yet or is stopping');
    const s = server;
    reloading = reloading.then(() => reload(s, path, log, logSettings));
  };
  const onTerm = (): void => stop('SIGTERM');
  const onInt = (): void => stop('SIGINT');
  // The daemon never dies of one bad stanza: a handler bug is logged, the process goes on.
  const onException = (e: Error): void => log.error('uncaught exception', { error: e.stack ?? String(e) });
  const onRejection = (e: unknown): void => log.error('unhandled rejection', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  const unhook = (): void => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };

  try {
    server = await RoostServer.start(config, { log });
  } catch (e) {
    log.error('cannot start', { error: (e as Error).message });
    unhook();
    return 1;
  }
  if (server.tls.info.selfSigned) {
    // Users compare this fingerprint with the one their app shows before trusting it.
    const fingerprint = new X509Certificate(await readFile(server.tls.info.certPath)).fingerprint256;
    log.warn('using a self-signed certificate: chat apps will ask users to trust it once', { certificate: server.tls.info.certPath, sha256: fingerprint });
  }
  if (stopSignal) {
    const signal = stopSignal;
    stopSignal = undefined;
    stop(signal);
  } else {
    // Every listener is open now (start() resolved after listen()).
    await sdNotify('READY=1', log, `serving ${config.hosts.join(', ')}`);
  }
  const code = await done;
  await reloading;
  unhook();
  return code;
}

type LogSettings = { current: { level: LogLevel; format: 'text' | 'json' } };

/**
 * A logger whose level and format follow `settings.current`, so a SIGHUP that changes `log:`
 * reaches the loggers every module and stream took at start.
 */
function switchableLogger(settings: LogSettings, component = 'roost'): Logger {
  let made: Logger | undefined;
  let madeFor: LogSettings['current'] | undefined;
  const get = (): Logger => {
    if (madeFor !== settings.current) {
      madeFor = settings.current;
      made = createLogger(settings.current, component);
    }
    return made!;
  };
  return {
    debug: (m, f) => get().debug(m, f),
    info: (m, f) => get().info(m, f),
    warn: (m, f) => get().warn(m, f),
    error: (m, f) => get().error(m, f),
    child: (c) => switchableLogger(settings, `${component}.${c}`),
  };
}

async function reload(server: RoostServer, path: string | undefined, log: Logger, logSettings: LogSettings): Promise<void> {
  await sdNotify('RELOADING=1', log);
  try {
    const next = await loadConfig({ path, env: process.env, cwd: process.cwd() });
    const r = await server.reload(next);
    const { level, format } = next.log;
    if (level !== logSettings.current.level || format !== logSettings.current.format) logSettings.current = { level, format };
    if (r.needsRestart.length) log.warn('some changes need a restart to take effect', { settings: r.needsRestart.join(',') });
  } catch (e) {
    // A broken file or certificate keeps the running configuration.
    log.error('reload failed; the previous configuration stays in use', { error: e instanceof ConfigError ? e.format() : String(e) });
  }
  await sdNotify('READY=1', log);
}
