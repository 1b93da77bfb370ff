// HTTP and HTTPS listeners (ports 5280/5281, and port 80 for ACME HTTP-01 challenges) with a
// small prefix router that modules mount handlers on (certificate challenges now; file upload,
// BOSH and WebSocket later). Every answer carries headers that keep browsers from sniffing or
// framing what is served.
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import type { Logger } from '../util/log.js';
import { listenOn, type Listener } from './tcp.js';

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean | void | Promise<boolean | void>;

/** Headers on every response (RFC 9110 plus the usual browser protections). */
export const SAFE_HEADERS: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

export class HttpRoutes {
  private readonly routes: { prefix: string; handler: HttpHandler }[] = [];

  /** Mounts `handler` for paths starting with `prefix`; longest prefix first. Returns an unmount function. */
  add(prefix: string, handler: HttpHandler): () => void {
    const entry = { prefix, handler };
    this.routes.push(entry);
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
    return () => {
      const i = this.routes.indexOf(entry);
      if (i >= 0) this.routes.splice(i, 1);
    };
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, log: Logger): Promise<void> {
    for (const [k, v] of Object.entries(SAFE_HEADERS)) res.setHeader(k, v);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      for (const r of this.routes) {
        if (!path.startsWith(r.prefix)) continue;
        if ((await r.handler(req, res)) !== false) return;
      }
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    } catch (e) {
      log.error('HTTP handler failed', { path, error: String(e) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    }
  }
}

export async function listenHttp(opts: {
  address: string;
  port: number;
  tls?: tls.TlsOptions;
  routes: HttpRoutes;
  log: Logger;
}): Promise<Listener> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => void opts.routes.handle(req, res, opts.log);
  // No deadline for a whole request: a 100 MB upload on a slow uplink takes minutes. Headers
  // still have one; a handler that reads a body sets its own idle timeout (uploads do).
  const common = { headersTimeout: 20_000, requestTimeout: 0, keepAliveTimeout: 5_000, maxHeaderSize: 16 * 1024 };
  const server = opts.tls ? https.createServer({ ...opts.tls, ...common }, onRequest) : http.createServer(common, onRequest);
  server.on('clientError', (_e, socket: net.Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await listenOn(server, opts.address, opts.port);
  const addr = server.address() as net.AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
