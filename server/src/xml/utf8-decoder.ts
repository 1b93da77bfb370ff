// Streaming, strict UTF-8 decoding for XML streams.
//
// RFC 6120 §11.6 (https://www.rfc-editor.org/rfc/rfc6120#section-11.6): XMPP streams are UTF-8;
// RFC 3629 (https://www.rfc-editor.org/rfc/rfc3629) defines which byte sequences are valid.
//
// TCP reads split multi-byte characters, so the decoder must carry an unfinished sequence over
// to the next read; invalid sequences (overlong forms, encoded surrogates, stray continuation
// bytes) must fail instead of turning into U+FFFD, because a parser that silently repairs
// input would accept streams that other entities reject. TextDecoder with `fatal` does both.
// Most XMPP traffic is ASCII: a read that is pure ASCII while nothing is carried over is
// decoded as latin1, which is a plain copy (checked with the SIMD `isAscii`).
import { isAscii } from 'node:buffer';

export class Utf8DecodeError extends Error {}

export class Utf8StreamDecoder {
  // ignoreBOM: a U+FEFF in the middle of the stream is a character (ZWNBSP), and the decoder
  // may first be used mid-stream because of the ASCII fast path; the XML parser drops a
  // leading BOM itself.
  private decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  // True when the last bytes given to TextDecoder may be an unfinished character. A read that
  // ended in an ASCII byte cannot leave one behind (the ASCII byte would have been an error).
  private maybeCarrying = false;

  /** Decodes one read; throws Utf8DecodeError on bytes that are not UTF-8. */
  decode(bytes: Buffer): string {
    if (bytes.length === 0) return '';
    if (!this.maybeCarrying && isAscii(bytes)) return bytes.toString('latin1');
    let s: string;
    try {
      s = this.decoder.decode(bytes, { stream: true });
    } catch {
      throw new Utf8DecodeError('invalid UTF-8');
    }
    this.maybeCarrying = bytes[bytes.length - 1]! >= 0x80;
    return s;
  }
}
