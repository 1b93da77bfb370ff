// XEP-0352: Client State Indication — what the server holds back while a client says it is
// inactive (an app in the background), version 1.0.0 (2017-02-04), namespace urn:xmpp:csi:0.
// https://xmpp.org/extensions/xep-0352.html
//
// The XEP leaves the optimisations to the server (§5, §6). Roost holds back only what loses
// nothing by waiting, and keeps just the newest of what is superseded anyway:
//  - presence updates (available/unavailable, not subscriptions or errors): the newest per
//    sender, since a contact's current state is all a client shows;
//  - chat-state-only messages (typing notifications, XEP-0085): the newest per conversation;
//  - PEP notifications (headline messages carrying a pubsub event: avatars, nicknames, device
//    lists): in order, as they are small and none replaces another with certainty.
// Everything else is "important" and goes out at once: messages with a body or subject,
// encrypted payloads, receipts and markers, errors, iqs, subscription requests. Before an
// important stanza the held ones are flushed, so the client still sees stanzas in the order
// they were sent (a contact's "paused" never arrives after its message). Carbon copies
// (XEP-0280) are judged by the message they carry.
//
// Stream management counts a stanza when it is written, so held stanzas are not "sent" and
// not queued for acknowledgement until they go out.
import type { Element } from '../xml/element.js';

export const NS_CSI = 'urn:xmpp:csi:0';
const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';

/** Children that do not make a message more than a chat state. */
const INCIDENTAL = new Set(['urn:xmpp:hints', 'urn:xmpp:sid:0', 'urn:xmpp:delay', 'http://jabber.org/protocol/address']);

function isChatStateOnly(m: Element): boolean {
  let state = false;
  for (const c of m.children) {
    if (typeof c === 'string') continue;
    const ns = c.attrs.xmlns;
    if (ns === NS_CHATSTATES) state = true;
    else if (c.name === 'thread' && ns === undefined) continue;
    else if (ns === undefined || !INCIDENTAL.has(ns)) return false;
  }
  return state;
}

/** The message inside a carbon copy, or the message itself. */
function carried(m: Element): Element {
  const wrap = m.getChild('received', NS_CARBONS) ?? m.getChild('sent', NS_CARBONS);
  return wrap?.getChild('forwarded', NS_FORWARD)?.getChild('message') ?? m;
}

let sequence = 0;

/**
 * The key a stanza is held under while the client is inactive (a newer stanza with the same
 * key replaces the older one), or undefined when it must go out now.
 */
export function holdKey(stanza: Element): string | undefined {
  const type = stanza.attrs.type;
  if (stanza.name === 'presence') {
    if (type !== undefined && type !== 'unavailable') return undefined;
    return `p ${stanza.attrs.from ?? ''}`;
  }
  if (stanza.name !== 'message' || type === 'error') return undefined;
  const m = carried(stanza);
  if (isChatStateOnly(m)) {
    const copy = m === stanza ? '' : 'carbon ';
    return `c ${copy}${m.attrs.from ?? ''} ${m.attrs.to ?? ''}`;
  }
  if (type === 'headline' && stanza.getChild('event', NS_PUBSUB_EVENT) && !stanza.getChild('body')) return `e ${++sequence}`;
  return undefined;
}

/** Stanzas held back for one inactive session, oldest first. */
export class HeldStanzas {
  private readonly held = new Map<string, Element>();

  get size(): number {
    return this.held.size;
  }

  /** Holds `stanza` under `key`, replacing (and moving after the others) an older one. */
  put(key: string, stanza: Element): void {
    this.held.delete(key);
    this.held.set(key, stanza);
  }

  /** Everything held, in order, leaving nothing behind. */
  take(): Element[] {
    const all = [...this.held.values()];
    this.held.clear();
    return all;
  }
}
