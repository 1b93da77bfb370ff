// Waits until the daemon answers on its client port: opens an XMPP stream (RFC 6120 section
// 4.2) and reads <stream:features>, retrying until the timeout.
import { connect } from 'node:net';
import type { ReadyResult } from '../types.js';

function attempt(host: string, port: number, domain: string, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('no stream features in time'));
    }, timeoutMs);
    const done = (e?: Error, features?: string[]): void => {
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else resolve(features ?? []);
    };
    sock.setEncoding('utf8');
    sock.on('connect', () =>
      sock.write(
        `<?xml version='1.0'?><stream:stream to='${domain.replace(/['<&]/g, '')}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
      ),
    );
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > 65536) return done(new Error('stream features too large'));
      const m = /<(?:stream:)?features\b[^>]*?(?:\/>|>([\s\S]*?)<\/(?:stream:)?features>)/.exec(buf);
      if (m) {
        // Top-level children only: names of elements at depth 0 inside <features>.
        const names: string[] = [];
        let depth = 0;
        for (const t of (m[1] ?? '').matchAll(/<(\/?)([A-Za-z_][\w.:-]*)[^>]*?(\/?)>/g)) {
          if (t[1]) depth--;
          else {
            if (depth === 0) names.push((t[2] as string).replace(/^.*:/, ''));
            if (!t[3]) depth++;
          }
        }
        done(undefined, names);
      } else if (/<(?:stream:)?error\b/.test(buf)) done(new Error(`the server answered with a stream error: ${buf.slice(buf.indexOf('error'), 300)}`));
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(new Error('the server closed the connection')));
  });
}

export async function waitForReady(opts: { host?: string; port: number; domain: string; timeoutMs?: number }): Promise<ReadyResult> {
  const start = Date.now();
  const deadline = start + (opts.timeoutMs ?? 30_000);
  let last = '';
  for (;;) {
    try {
      const features = await attempt(opts.host ?? '127.0.0.1', opts.port, opts.domain, Math.max(500, Math.min(5000, deadline - Date.now())));
      return { ok: true, features, ms: Date.now() - start };
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline)
      return { ok: false, features: [], ms: Date.now() - start, error: `the chat server did not become ready on port ${opts.port}: ${last}` };
    await new Promise((r) => setTimeout(r, 200));
  }
}
