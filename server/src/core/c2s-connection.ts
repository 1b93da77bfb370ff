// The transport under a client stream (RFC 6120 §4, §5): one TCP connection (plain, upgraded
// by STARTTLS, or TLS from the first byte per XEP-0368) with its XML parser, batched output and
// in-order input queue.
//
// It is apart from the stream protocol (core/c2s.ts, its `handler`) because XEP-0198 resumption
// hands a live connection to another handler: the session being resumed takes over the new
// connection, so every module keeps seeing the same Session object.
//
// Input is processed strictly in order: a handler step that returns a promise holds back the
// elements behind it, so a client's stanzas are routed in the order it sent them (RFC 6120
// §10.1). Over the stanza rate the socket is not read until tokens come back (flood control
// without loss), and a long queue behind a slow step pauses reading too (back-pressure).
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { RoostConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { StreamParser } from '../xml/parser.js';
import type { Element } from '../xml/element.js';
import { Output } from './output.js';
import { TokenBucket } from './ratelimit.js';
import type { StreamErrorCondition } from './session.js';

/** What the stream on top of a connection is told. */
export interface ConnectionHandler {
  streamStart(attrs: Record<string, string>, ns: string | undefined): void;
  /** One top-level element; a promise holds the queue until it settles. */
  element(el: Element): void | Promise<unknown>;
  streamEnd(): void;
  parseError(condition: StreamErrorCondition, text: string): void;
  /** The peer does not read and more than limits.sendBuffer waits for it. */
  overflow(): void;
  /** A step threw or rejected. */
  failed(e: unknown): void;
  /** Whether the flood throttle applies now (after binding). */
  throttled(): boolean;
  /** The socket is gone (closed by either side or broken). */
  closed(conn: C2SConnection): void;
}

export interface ConnectionOptions {
  directTls: boolean;
  /** tls-server-end-point data of the certificate a direct-TLS connection was served. */
  endPoint?: Buffer;
  limits: RoostConfig['limits'];
  log: Logger;
  /** Called once when the socket is gone, after the handler (connection accounting). */
  gone: () => void;
}

let counter = 0;

export class C2SConnection {
  readonly id: string;
  readonly address: string;
  readonly directTls: boolean;
  socket: Socket | tls.TLSSocket;
  secure: boolean;
  endPoint?: Buffer;
  handler: ConnectionHandler;
  readonly output: Output;
  readonly parser: StreamParser;
  state: 'open' | 'closing' | 'closed' = 'open';
  /** When the client last sent anything, and when it was pinged for being quiet (0: not). */
  lastActive = Date.now();
  pingSent = 0;

  private queue: Element[] = [];
  private busy = false;
  private paused = false;
  private readonly bucket: TokenBucket;
  private readonly log: Logger;
  private readonly gone: () => void;

  constructor(socket: Socket | tls.TLSSocket, handler: ConnectionHandler, opts: ConnectionOptions) {
    this.id = `conn${++counter}`;
    this.socket = socket;
    this.handler = handler;
    this.directTls = opts.directTls;
    this.secure = opts.directTls;
    this.endPoint = opts.endPoint;
    this.address = normalizeAddress(socket.remoteAddress);
    this.log = opts.log;
    this.gone = opts.gone;
    const limits = opts.limits;
    this.output = new Output(socket, () => this.handler.overflow(), limits.sendBuffer);
    this.bucket = new TokenBucket(limits.stanzasPerSecond, Math.max(limits.stanzasPerSecond, 50));
    this.parser = new StreamParser(
      {
        streamStart: (attrs, ns) => this.handler.streamStart(attrs, ns),
        stanza: (el) => this.enqueue(el),
        streamEnd: () => this.handler.streamEnd(),
        error: (condition, text) => this.handler.parseError(condition, text),
      },
      { maxStanzaSize: limits.preAuthSize, maxDepth: limits.depth },
    );
    this.attach(socket);
  }

  write(data: string): void {
    if (this.state === 'open') this.output.write(data);
  }

  flush(): void {
    this.output.flush();
  }

  /** Drops what the client sent and was not processed yet (STARTTLS, SASL restart). */
  discardInput(): void {
    this.queue.length = 0;
  }

  /**
   * Ends the connection from our side: what is queued is written, further writes are dropped,
   * the socket is half-closed, and a peer that never closes its side is cut off after 5 s
   * (RFC 6120 §4.4 allows waiting a while).
   */
  end(): void {
    if (this.state !== 'open') return;
    this.output.flush();
    this.output.close();
    this.state = 'closing';
    this.queue.length = 0;
    this.socket.end();
    const t = setTimeout(() => this.socket.destroy(), 5000);
    t.unref();
  }

  /** Cuts the connection at once (a dead peer: nothing more can be written). */
  destroy(): void {
    this.output.close();
    this.queue.length = 0;
    this.socket.destroy();
  }

  get tlsSocket(): tls.TLSSocket | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket : undefined;
  }

  // ------------------------------------------------------------ socket

  private attach(socket: Socket | tls.TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      if (this.state === 'closed') return;
      this.lastActive = Date.now();
      this.pingSent = 0;
      this.parser.write(chunk);
    });
    socket.on('error', (e) => {
      this.log.debug('socket error', { conn: this.id, error: e.message });
    });
    socket.on('close', () => this.onSocketClosed());
    socket.setNoDelay?.(true);
  }

  private onSocketClosed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.output.close();
    this.queue.length = 0;
    try {
      this.handler.closed(this);
    } finally {
      this.gone();
    }
  }

  /**
   * RFC 6120 §5.4.3.3: after <proceed/> the same TCP connection carries TLS. Resolves true once
   * the handshake is done (the parser is reset for the new stream), false when it failed.
   */
  startTls(secureContext: tls.SecureContext, sniCallback: tls.TlsOptions['SNICallback']): Promise<boolean> {
    const raw = this.socket as Socket;
    this.output.flush();
    // Whatever the client sent after <starttls/> in the clear is discarded (STARTTLS command
    // injection): only what comes through TLS counts.
    this.queue.length = 0;
    raw.removeAllListeners('data');
    raw.removeAllListeners('close');
    raw.removeAllListeners('error');
    return new Promise<boolean>((resolve) => {
      const secure = new tls.TLSSocket(raw, { isServer: true, secureContext, SNICallback: sniCallback });
      const timer = setTimeout(() => secure.destroy(), 30_000);
      timer.unref();
      secure.once('secure', () => {
        clearTimeout(timer);
        this.socket = secure;
        this.secure = true;
        this.output.replaceSocket(secure);
        this.parser.reset();
        resolve(true);
      });
      secure.once('error', (e) => {
        clearTimeout(timer);
        this.log.info('TLS handshake failed', { conn: this.id, address: this.address, error: e.message });
        resolve(false);
      });
      this.attach(secure);
    });
  }

  // ------------------------------------------------------------ input queue

  private enqueue(el: Element): void {
    if (this.state !== 'open') return;
    this.queue.push(el);
    if (!this.busy) this.drain();
  }

  /** Runs queued elements in order; an async step pauses the queue until it settles. */
  private drain(): void {
    while (this.queue.length > 0 && !this.busy) {
      if (this.state !== 'open') {
        this.queue.length = 0;
        return;
      }
      if (this.handler.throttled() && !this.bucket.take()) {
        this.throttle();
        return;
      }
      const el = this.queue.shift()!;
      let r: void | Promise<unknown>;
      try {
        r = this.handler.element(el);
      } catch (e) {
        this.handler.failed(e);
        continue;
      }
      if (r) this.hold(r);
    }
    if (this.queue.length > 1000 && !this.paused) {
      this.paused = true;
      this.socket.pause();
    } else if (this.queue.length === 0 && this.paused && !this.busy) {
      this.paused = false;
      this.socket.resume();
    }
  }

  /** Holds the queue until `p` settles (an async step). */
  hold(p: Promise<unknown>): void {
    this.busy = true;
    p.catch((e) => this.handler.failed(e)).finally(() => {
      this.busy = false;
      this.drain();
    });
  }

  /** Flood control: over the stanza rate, the socket is not read until tokens come back. */
  private throttle(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    const t = setTimeout(() => {
      this.paused = false;
      this.socket.resume();
      this.drain();
    }, this.bucket.msUntilNext());
    t.unref();
  }
}

function normalizeAddress(a: string | undefined): string {
  if (!a) return 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
