// Parses one complete XML element (a stored stanza, a test fixture) with the stream parser's
// rules: the same restricted XML (RFC 6120 §11.1, https://www.rfc-editor.org/rfc/rfc6120) and
// the same namespace normalisation, so an element read back from storage looks exactly like
// one that arrived on a stream with the given default namespace.
import type { StreamErrorCondition } from '../core/session.js';
import { escapeAttr, type Element } from './element.js';
import { NS_STREAMS } from './namespaces.js';
import { StreamParser } from './parser.js';

export class XmlParseError extends Error {
  readonly condition: StreamErrorCondition;

  constructor(condition: StreamErrorCondition, message: string) {
    super(message);
    this.name = 'XmlParseError';
    this.condition = condition;
  }
}

export interface ParseElementOptions {
  /** Default namespace of the imagined stream (jabber:client...): a top-level xmlns equal to it is dropped. */
  defaultNs?: string;
  /** Largest accepted size in bytes (default: no limit). */
  maxSize?: number;
  /** Deepest accepted nesting (default 256). */
  maxDepth?: number;
}

/** The element in `text`; throws XmlParseError unless `text` is exactly one element (whitespace around it is allowed). */
export function parseElement(text: string, options: ParseElementOptions = {}): Element {
  let result: Element | undefined;
  let count = 0;
  let failure: XmlParseError | undefined;
  let closing = false;
  let ended = false;
  const parser = new StreamParser(
    {
      streamStart() {},
      stanza(el) {
        count++;
        result ??= el;
      },
      streamEnd() {
        ended = true;
        if (!closing) failure ??= new XmlParseError('not-well-formed', 'unbalanced end tag');
      },
      error(condition, message) {
        failure ??= new XmlParseError(condition, message);
      },
    },
    { maxStanzaSize: options.maxSize ?? Number.POSITIVE_INFINITY, maxDepth: options.maxDepth ?? 256 },
  );
  const ns = options.defaultNs === undefined ? '' : ` xmlns='${escapeAttr(options.defaultNs)}'`;
  parser.write(`<stream:stream xmlns:stream='${NS_STREAMS}'${ns}>`);
  parser.write(text);
  closing = true;
  parser.write('</stream:stream>');
  if (failure !== undefined) throw failure;
  if (!ended) throw new XmlParseError('not-well-formed', 'unclosed element');
  if (count !== 1 || result === undefined) throw new XmlParseError('not-well-formed', `expected one element, found ${count}`);
  return result;
}
