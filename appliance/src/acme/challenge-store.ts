// HTTP-01 responder (RFC 8555 section 8.3): serves key authorizations at
// http://<name>/.well-known/acme-challenge/<token>. The store can be mounted by the daemon's
// own HTTP listener (renewal while running) or served by a tiny built-in server (installer).
// With a directory, tokens are also files there: `roost setup` (another process) can then answer
// challenges through the running daemon's listener on port 80.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { ChallengeStore } from '../types.js';

const PREFIX = '/.well-known/acme-challenge/';
const TOKEN = /^[A-Za-z0-9_-]+$/;

export function createChallengeStore(opts: { dir?: string } = {}): ChallengeStore {
  const tokens = new Map<string, string>();
  const file = (token: string): string | undefined => (opts.dir && TOKEN.test(token) ? join(opts.dir, token) : undefined);
  const get = (token: string): string | undefined => {
    const mem = tokens.get(token);
    if (mem !== undefined) return mem;
    const f = file(token);
    if (!f) return undefined;
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return undefined;
    }
  };
  return {
    set: (token, keyAuthorization) => {
      tokens.set(token, keyAuthorization);
      const f = file(token);
      if (f && opts.dir) {
        mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
        // Key authorizations are public by design (RFC 8555 8.3: served to anyone who asks).
        writeFileSync(f, keyAuthorization, { mode: 0o644 });
      }
    },
    delete: (token) => {
      tokens.delete(token);
      const f = file(token);
      if (f) {
        try {
          unlinkSync(f);
        } catch {
          /* already gone */
        }
      }
    },
    get,
    handle(req: IncomingMessage, res: ServerResponse): boolean {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (!path.startsWith(PREFIX)) return false;
      const token = path.slice(PREFIX.length);
      const body = TOKEN.test(token) ? get(token) : undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return true;
      }
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown challenge token\n');
        return true;
      }
      // RFC 8555 8.3: the body is the key authorization, exactly.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    },
  };
}

/** Serves the store on its own port; any other path gets 404. */
export async function startChallengeResponder(
  store: ChallengeStore,
  opts: { port: number; address?: string },
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (!store.handle(req, res)) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const where = `${opts.address ?? 'all addresses'} port ${opts.port}`;
      if (e.code === 'EADDRINUSE')
        reject(new Error(`cannot answer the HTTP-01 challenge: ${where} is already in use by another program (stop it, or use the DNS-01 challenge)`));
      else if (e.code === 'EACCES')
        reject(new Error(`cannot answer the HTTP-01 challenge: no permission to listen on ${where} (run as root, or use the DNS-01 challenge)`));
      else reject(e);
    });
    server.listen(opts.port, opts.address, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
