// The fixed pieces of XMPP stream XML (RFC 6120 §4): headers, errors, namespaces.
import { escapeAttr, escapeText, xml, type Element } from '../xml/element.js';
import type { StreamErrorCondition } from './session.js';

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';
export const NS_CLIENT = 'jabber:client';
export const NS_SERVER = 'jabber:server';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';

export function streamHeader(opts: { ns: string; from: string; to?: string; id: string; lang: string }): string {
  let s = `<?xml version='1.0'?><stream:stream xmlns='${opts.ns}' xmlns:stream='${NS_STREAMS}' id='${escapeAttr(opts.id)}' from='${escapeAttr(opts.from)}'`;
  if (opts.to) s += ` to='${escapeAttr(opts.to)}'`;
  return s + ` version='1.0' xml:lang='${escapeAttr(opts.lang)}'>`;
}

export const STREAM_CLOSE = '</stream:stream>';

export function streamError(condition: StreamErrorCondition, text?: string): string {
  let s = `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'/>`;
  if (text) s += `<text xmlns='${NS_STREAM_ERRORS}' xml:lang='en'>${escapeText(text)}</text>`;
  return s + '</stream:error>';
}

/** <stream:features> with the given children (serialized with the stream prefix). */
export function streamFeatures(children: Element[]): string {
  return `<stream:features>${children.map((c) => c.toString()).join('')}</stream:features>`;
}

export function starttlsFeature(): Element {
  return xml('starttls', { xmlns: NS_TLS }, xml('required'));
}
