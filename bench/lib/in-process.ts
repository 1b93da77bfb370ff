// The config of a Roost server a benchmark runs in its own process (mam, pep, upload): the
// defaults on a temporary data directory, with the listeners it needs on loopback port 0 (the
// real ports are in server.ports) and the others closed.
import { loadConfig } from '../../server/src/config/load.js';
import type { RoostConfig } from '../../server/src/config/types.js';

export interface LoopbackListeners {
  /** Direct TLS c2s (XEP-0368) as well as STARTTLS c2s. */
  c2sDirectTls?: boolean;
  https?: boolean;
}

export async function loopbackConfig(dataDir: string, open: LoopbackListeners = {}): Promise<RoostConfig> {
  const base = await loadConfig({ env: { ROOST_DATA: dataDir }, cwd: dataDir });
  const l = base.listeners;
  const loop = { address: '127.0.0.1', port: 0, enabled: true };
  return {
    ...base,
    listeners: {
      ...l,
      c2s: { ...l.c2s, ...loop },
      c2sDirectTls: open.c2sDirectTls ? { ...l.c2sDirectTls, ...loop } : { ...l.c2sDirectTls, enabled: false },
      s2s: { ...l.s2s, enabled: false },
      http: { ...l.http, enabled: false },
      https: open.https ? { ...l.https, ...loop } : { ...l.https, enabled: false },
    },
  };
}
