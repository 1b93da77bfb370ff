// TCP listeners: plain TCP for STARTTLS streams (port 5222) and TLS from the first byte for
// XEP-0368 direct TLS (port 5223, ALPN `xmpp-client`).
// https://xmpp.org/extensions/xep-0368.html (Version 1.1.0, 2017-03-14)
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../util/log.js';

export interface Listener {
  readonly address: string;
  readonly port: number;
  /** The socket server (a tls.Server on a direct-TLS port), e.g. to renew its certificate. */
  readonly server?: net.Server;
  /** Stops accepting; existing connections are the caller's to close. */
  close(): Promise<void>;
}

export interface ListenOptions {
  address: string;
  port: number;
  /** Present for a direct-TLS port. */
  tls?: tls.TlsOptions;
  log: Logger;
  /** Decides whether to take a new connection (limits); false destroys it at once. */
  admit(socket: net.Socket): boolean;
  onSocket(socket: net.Socket | tls.TLSSocket): void;
}

export async function listen(opts: ListenOptions): Promise<Listener> {
  const server: net.Server = opts.tls
    ? tls.createServer({ ...opts.tls, handshakeTimeout: 30_000 }, (socket) => opts.onSocket(socket))
    : net.createServer((socket) => opts.onSocket(socket));
  // Limits are applied to the TCP connection before any TLS work is spent on it.
  server.on('connection', (socket: net.Socket) => {
    if (!opts.admit(socket)) socket.destroy();
  });
  if (opts.tls) {
    server.on('tlsClientError', (e: Error, socket: tls.TLSSocket) => {
      opts.log.debug('TLS handshake failed', { address: socket.remoteAddress, error: e.message });
    });
  }
  server.on('error', (e) => opts.log.error('listener error', { port: opts.port, error: e.message }));
  await listenOn(server, opts.address, opts.port, 4096);
  const addr = server.address() as net.AddressInfo;
  return {
    address: addr.address,
    port: addr.port,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Starts `server` listening; a failure (port in use, no permission...) rejects in words an admin can act on. */
export function listenOn(server: net.Server, address: string, port: number, backlog?: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => reject(listenError(e, address, port));
    server.once('error', onError);
    server.listen({ host: address, port, ...(backlog !== undefined ? { backlog } : {}) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A listen() failure in words an admin can act on. */
function listenError(e: NodeJS.ErrnoException, address: string, port: number): Error {
  if (e.code === 'EADDRINUSE') return new Error(`port ${port} on ${address} is already in use by another program`);
  if (e.code === 'EACCES') return new Error(`no permission to listen on port ${port} (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
  if (e.code === 'EADDRNOTAVAIL') return new Error(`${address} is not an address of this machine (listeners.*.address)`);
  return new Error(`cannot listen on ${address}:${port}: ${e.message}`);
}
