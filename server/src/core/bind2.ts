// XEP-0386: Bind 2 (version 1.0.0, 2024-04-04), namespace urn:xmpp:bind:0 — resource binding
// inside the SASL2 authentication request, with session features enabled in the same step.
// https://xmpp.org/extensions/xep-0386.html
//
// Resources are "<tag>/<id>" (§3.1.1 recommended format). The id is stable per account,
// user-agent id and tag when the client named a user agent (XEP-0388), so a phone that logs in
// again gets its old resource back and replaces its own stale session rather than piling up
// new ones (§3.1: "the server SHOULD terminate any earlier sessions from the same client");
// it is derived with a server secret, so the user-agent id cannot be read from it.
//
// Inline features: stream management (<enable xmlns='urn:xmpp:sm:3'/>, answered with
// <enabled/> inside <bound/>) and client state (<active/>/<inactive/> of urn:xmpp:csi:0) are
// done by the stream itself; other modules join in with two hooks:
//   `bind2-features` ({ session, inline }): append <feature var='...'/> to `inline`, the
//       <inline/> of the advertised <bind/> (carbons: urn:xmpp:carbons:2);
//   `bind2-inline/<namespace>` ({ session, element, bound }): the request's child in that
//       namespace, after the resource is bound and before <success/> is sent; append any
//       answer to `bound`; return true when handled. Unclaimed children are ignored.
import { createHmac, randomBytes } from 'node:crypto';
import { xml, type Element } from '../xml/element.js';
import { prepareResourcepart } from './jid.js';
import type { Session } from './session.js';

export const NS_BIND2 = 'urn:xmpp:bind:0';

export interface Bind2FeaturesEvent {
  session: Session;
  /** The <inline/> element of the advertised <bind/>. */
  inline: Element;
}

export interface Bind2InlineEvent {
  session: Session;
  /** The client's request element (e.g. <enable xmlns='urn:xmpp:carbons:2'/>). */
  element: Element;
  /** The <bound/> answer, to append results to. */
  bound: Element;
}

/** Longest tag kept in the resource; a longer one is cut. */
const MAX_TAG = 64;

/** The client's <tag/> made safe for a resource, or undefined when there is none usable. */
export function cleanTag(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const t = raw.trim().replace(/\//g, '-').slice(0, MAX_TAG);
  if (t === '') return undefined;
  try {
    return prepareResourcepart(t);
  } catch {
    return undefined;
  }
}

/** The resource for a Bind2 request (see the header). */
export function bind2Resource(opts: { tag?: string; username: string; userAgentId?: string; secret: Buffer }): string {
  const id =
    opts.userAgentId !== undefined
      ? createHmac('sha256', opts.secret).update(`bind2\0${opts.username}\0${opts.userAgentId}\0${opts.tag ?? ''}`).digest('base64url').slice(0, 12)
      : randomBytes(9).toString('base64url');
  return opts.tag !== undefined ? `${opts.tag}/${id}` : id;
}

/** The <bind/> advertised inside SASL2's <inline/>, listing the inline feature namespaces. */
export function bind2Feature(vars: string[]): { bind: Element; inline: Element } {
  const inline = xml('inline', {}, ...vars.map((v) => xml('feature', { var: v })));
  return { bind: xml('bind', { xmlns: NS_BIND2 }, inline), inline };
}
