// The hardened streaming parser for XMPP XML streams.
//
// RFC 6120, Extensible Messaging and Presence Protocol (XMPP): Core, March 2011,
// https://www.rfc-editor.org/rfc/rfc6120 — §4.3 (stream negotiation and restarts), §4.9 (stream
// errors), §11 (XML usage: restrictions, namespaces, XML declaration, UTF-8).
//
// Bytes from the transport are decoded as UTF-8 (carrying characters split across reads) and
// fed to SaxCore (sax-core.ts), which tokenizes with saxes, enforces restricted XML and the
// limits, and builds namespace-normalised Elements. This file owns the life cycle: one error
// at most per stream, restarts, limits that change after authentication, and cutting big
// writes into pieces so an oversize stanza is stopped within one piece of crossing the limit.
import type { StreamErrorCondition } from '../core/session.js';
import type { Element } from './element.js';
import { SaxCore, type CoreOwner } from './sax-core.js';
import { Utf8StreamDecoder } from './utf8-decoder.js';

export interface StreamParserLimits {
  /** Bytes of one top-level stanza (default config 256 KiB). Also bounds the stream header. */
  maxStanzaSize: number;
  /** Element nesting inside a stanza, the stanza itself being level 1 (default 32). */
  maxDepth: number;
}

export interface StreamParserHandler {
  /** The stream header <stream:stream ...>: its attributes (from, to, version, xml:lang, id) and the default namespace it declared. */
  streamStart(attrs: Record<string, string>, defaultNs: string | undefined): void;
  /** One complete top-level child of the stream. */
  stanza(el: Element): void;
  /** </stream:stream> received. */
  streamEnd(): void;
  /** A violation; the caller sends the stream error and closes. After this the parser ignores further input. */
  error(condition: StreamErrorCondition, text: string): void;
}

// Largest slice handed to saxes at once. Limits are checked between slices, so a single huge
// write cannot build a tree much bigger than maxStanzaSize before it is stopped.
const PIECE = 64 * 1024;

const LEADING_WHITESPACE = /^[ \t\r\n]+/;

function checkLimits(limits: StreamParserLimits): StreamParserLimits {
  const { maxStanzaSize, maxDepth } = limits;
  if (!(typeof maxStanzaSize === 'number' && maxStanzaSize >= 1)) {
    throw new RangeError(`maxStanzaSize must be a number of bytes >= 1, got ${String(maxStanzaSize)}`);
  }
  if (!(typeof maxDepth === 'number' && maxDepth >= 1)) {
    throw new RangeError(`maxDepth must be a number >= 1, got ${String(maxDepth)}`);
  }
  return { maxStanzaSize, maxDepth };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * Parses one XML stream. Events arrive synchronously from write(). Attributes of the stream
 * header are passed as sent except the default `xmlns` (given separately); prefix declarations
 * such as xmlns:stream or xmlns:db stay in them.
 */
export class StreamParser {
  private readonly handler: StreamParserHandler;
  private limits: StreamParserLimits;
  private core: SaxCore;
  private decoder = new Utf8StreamDecoder();
  /** Set by an error, the end of the stream or end(); cleared by reset(). */
  private halted = false;
  /** Nothing but whitespace fed to the current core yet. */
  private fresh = true;
  /** Bytes of the current stream looked at for a UTF-16 signature (the first two). */
  private sniffed = 0;
  /** A high surrogate that ended the last string write, waiting for its other half. */
  private carriedSurrogate = '';
  /** An exception thrown by the handler, passed through write() unchanged. */
  private handlerError: { error: unknown } | undefined;
  private writing = false;
  private readonly owner: CoreOwner;

  constructor(handler: StreamParserHandler, limits: StreamParserLimits) {
    this.handler = handler;
    this.limits = checkLimits(limits);
    this.owner = {
      streamStart: (attrs, defaultNs) => {
        try {
          handler.streamStart(attrs, defaultNs);
        } catch (e) {
          this.handlerThrew(e);
        }
      },
      stanza: (el) => {
        try {
          handler.stanza(el);
        } catch (e) {
          this.handlerThrew(e);
        }
      },
      streamEnd: () => {
        this.halted = true;
        try {
          handler.streamEnd();
        } catch (e) {
          this.handlerThrew(e);
        }
      },
      violation: (condition, text) => this.fail(condition, text),
    };
    this.core = new SaxCore(this.owner, this.limits);
  }

  /** Feeds bytes (or text) from the transport. Bad input never throws: it ends in handler.error. */
  write(chunk: Buffer | string): void {
    if (this.halted) return;
    // saxes cannot be re-entered; a handler that wants to inject input has a bug.
    if (this.writing) throw new Error('StreamParser.write() called from inside one of its handlers');
    this.writing = true;
    try {
      if (typeof chunk === 'string') this.writeString(this.core, chunk);
      else this.writeBuffer(this.core, chunk);
    } finally {
      this.writing = false;
    }
  }

  /**
   * A stream restart (after STARTTLS or SASL success, RFC 6120 §4.3.3): expect a new header;
   * discards all state. Called from inside a handler callback, it also discards the rest of
   * the input of the current write(): after STARTTLS that is plaintext which must not be taken
   * as part of the encrypted stream, and after SASL success a client waits for <success/>
   * before it may restart (RFC 6120 §6.4.6).
   */
  reset(): void {
    this.core.stop();
    this.core = new SaxCore(this.owner, this.limits);
    this.decoder = new Utf8StreamDecoder();
    this.halted = false;
    this.fresh = true;
    this.sniffed = 0;
    this.carriedSurrogate = '';
    this.handlerError = undefined;
  }

  /** New limits, effective at once (also for the stanza being received). */
  setLimits(limits: StreamParserLimits): void {
    this.limits = checkLimits(limits);
    this.core.limits = this.limits;
  }

  /** The transport closed: drops all state; further input is ignored. Reports nothing. */
  end(): void {
    this.halted = true;
    this.core.stop();
  }

  // ---------------------------------------------------------------------------------------

  private writeBuffer(core: SaxCore, chunk: Buffer): void {
    for (let off = 0; off < chunk.length; off += PIECE) {
      const bytes = off === 0 && chunk.length <= PIECE ? chunk : chunk.subarray(off, off + PIECE);
      if (this.sniffed < 2 && !this.sniff(bytes)) return;
      let text: string;
      try {
        text = this.decoder.decode(bytes);
      } catch {
        this.fail('not-well-formed', 'invalid UTF-8');
        return;
      }
      if (text.length !== 0 && !this.feed(core, text)) return;
    }
  }

  private writeString(core: SaxCore, chunk: string): void {
    // Strings may come from code that split a surrogate pair; saxes would misread a lone one.
    if (this.carriedSurrogate.length !== 0) {
      chunk = this.carriedSurrogate + chunk;
      this.carriedSurrogate = '';
    }
    if (chunk.length !== 0 && isHighSurrogate(chunk.charCodeAt(chunk.length - 1))) {
      this.carriedSurrogate = chunk.slice(-1);
      chunk = chunk.slice(0, -1);
    }
    if (!(chunk as unknown as { isWellFormed(): boolean }).isWellFormed()) {
      this.fail('not-well-formed', 'lone surrogate in the input text');
      return;
    }
    for (let off = 0; off < chunk.length; off += PIECE) {
      const piece = off === 0 && chunk.length <= PIECE ? chunk : chunk.slice(off, off + PIECE);
      if (!this.feed(core, piece)) return;
    }
  }

  /** Gives text to the core; false when this write must stop (error, end, restart). */
  private feed(core: SaxCore, text: string): boolean {
    if (this.fresh) {
      // Whitespace before a (restarted) stream's first markup is dropped, so that an XML
      // declaration after a keepalive or a newline at a restart is still accepted.
      const lead = LEADING_WHITESPACE.exec(text);
      if (lead !== null) {
        if (lead[0].length === text.length) return true;
        text = text.slice(lead[0].length);
      }
      this.fresh = false;
    }
    try {
      core.feed(text);
    } catch (e) {
      const passed = this.handlerError;
      if (passed !== undefined) {
        this.handlerError = undefined;
        throw passed.error;
      }
      // saxes throws (instead of reporting) only on states it considers impossible.
      this.fail('not-well-formed', e instanceof Error ? e.message : String(e));
    }
    return !this.halted && this.core === core;
  }

  /** RFC 6120 §11.6: a UTF-16 stream shows itself in its first two bytes (BOM or '<' with a zero byte). */
  private sniff(bytes: Buffer): boolean {
    for (let j = 0; j < bytes.length && this.sniffed < 2; j++, this.sniffed++) {
      const b = bytes[j]!;
      if (b === 0x00 || (this.sniffed === 0 && (b === 0xfe || b === 0xff))) {
        this.fail('unsupported-encoding', 'the stream is not UTF-8 (it looks like UTF-16)');
        return false;
      }
    }
    return true;
  }

  private fail(condition: StreamErrorCondition, text: string): void {
    if (this.halted) return;
    this.halted = true;
    this.core.stop();
    try {
      this.handler.error(condition, text);
    } catch (e) {
      this.handlerError = { error: e };
      throw e;
    }
  }

  private handlerThrew(error: unknown): never {
    // The handler's bug, not the peer's: stop parsing and let write() throw it unchanged.
    this.halted = true;
    this.core.stop();
    this.handlerError = { error };
    throw error;
  }
}
