// What happens to stanzas a client never acknowledged when its session ends for good: XEP-0198
// §4 ("A server SHOULD treat unacknowledged stanzas in the same way that it would treat a
// stanza sent to an unavailable resource, by either returning an error to the sender or
// committing the stanza to offline storage"), with RFC 6121 §8.5.3.2 for the details.
// https://xmpp.org/extensions/xep-0198.html#acking (version 1.6.3)
//
// Decisions (after Prosody's mod_smacks, and stricter about duplicates and loss):
//  - chat and normal messages: when the account has no other available resource, they go to
//    offline storage (hook `message/offline/handle`, stamped with when they first arrived);
//    otherwise each other available resource that did not already get the message gets it: a
//    resource that became available after the message arrived never saw it; one that was
//    there saw it directly when it was addressed to the bare JID and that resource ranked as
//    high, or as a carbon copy (XEP-0280) when carbons were on. Nothing to do for the rest.
//  - carbon copies and archive results are copies of what is stored or delivered elsewhere;
//    groupchat, headline and error messages and presence are of the moment: all dropped.
//  - iq get/set: the sender gets service-unavailable (RFC 6121 §8.5.3.2.1, as for a resource
//    that is gone); results and errors are dropped.
// Offline storage is asked for every message at once, in order, before anything else can
// reach it: the store serialises per account in call order, so the messages keep their order
// and stay ahead of ones that arrive after the session ended.
import { xml, type Element } from '../xml/element.js';
import type { Host } from './host.js';
import { tryParseJid } from './jid.js';
import type { RoutedEvent } from './router.js';
import type { Session } from './session.js';
import { NS_DELAY, type Unacked } from './sm.js';
import type { Logger } from '../util/log.js';

const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_MAM = 'urn:xmpp:mam:2';

/** What a session needs to tell about itself for the re-delivery decision. */
export interface EndedSession extends Session {
  /** When the session last became available (ms), 0 when it never was. */
  readonly availableSince?: number;
}

function isCopy(m: Element): boolean {
  return m.getChild('sent', NS_CARBONS) !== undefined || m.getChild('received', NS_CARBONS) !== undefined || m.getChild('result', NS_MAM) !== undefined || m.getChild('result', 'urn:xmpp:mam:1') !== undefined;
}

/** The carbons module keeps its per-session switch under this key (modules/carbons.ts). */
function carbonsOn(s: Session): boolean {
  return s.data.get('carbons') === true;
}

/**
 * A copy with an XEP-0203 stamp of when it first arrived. Only messages with a body: offline
 * storage recognises a bare chat state (stale, not kept) by having nothing else in it.
 */
function stamped(item: Unacked, host: string): Element {
  if (!item.stanza.getChild('body')) return item.stanza;
  const s = item.stanza.clone();
  if (!s.getChild('delay', NS_DELAY)) s.append(xml('delay', { xmlns: NS_DELAY, from: host, stamp: new Date(item.at).toISOString() }));
  return s;
}

export async function disposeUnacked(host: Host, session: EndedSession, items: Unacked[], log: Logger): Promise<void> {
  const username = session.username;
  const own = session.jid;
  if (username === undefined || !own) return;
  const stores: Promise<void>[] = [];
  for (const item of items) {
    const stanza = item.stanza;
    const type = stanza.attrs.type;
    try {
      if (stanza.name === 'iq') {
        if ((type === 'get' || type === 'set') && stanza.attrs.from !== own.full) {
          bounce(host, stanza, 'service-unavailable');
        }
        continue;
      }
      if (stanza.name !== 'message') continue;
      if (type !== undefined && type !== 'chat' && type !== 'normal') continue;
      if (isCopy(stanza)) continue;
      const others = host.sessions.sessionsOf(username).filter((s) => s !== session && s.jid !== undefined && s.presence !== undefined && s.priority >= 0);
      if (others.length === 0) {
        stores.push(
          toOffline(host, stamped(item, host.name), username).catch((e) =>
            log.warn('unacknowledged message could not be stored', { session: session.id, error: e instanceof Error ? e.message : String(e) }),
          ),
        );
        continue;
      }
      const toFull = tryParseJid(stanza.attrs.to)?.resource !== undefined;
      for (const s of others) {
        const since = (s as EndedSession).availableSince ?? 0;
        const sawIt = since !== 0 && since <= item.at && (carbonsOn(s) || (!toFull && s.priority >= session.priority));
        if (!sawIt) s.send(stamped(item, host.name));
      }
    } catch (e) {
      log.warn('unacknowledged stanza could not be handled', { session: session.id, stanza: stanza.name, error: e instanceof Error ? e.message : String(e) });
    }
  }
  await Promise.all(stores);
}

function bounce(host: Host, stanza: Element, condition: 'service-unavailable'): void {
  const event = routed(host, stanza);
  if (!event) return;
  const r = host.replyError(event, 'cancel', condition);
  if (r) r.catch(() => {});
}

function routed(host: Host, stanza: Element): RoutedEvent | undefined {
  const from = tryParseJid(stanza.attrs.from);
  const to = tryParseJid(stanza.attrs.to);
  if (!from || !to) return undefined;
  return { stanza, origin: host.serverSession, from, to };
}

async function toOffline(host: Host, stanza: Element, username: string): Promise<void> {
  const event = routed(host, stanza);
  if (!event) return;
  const handled = await host.hooks.fireAsync('message/offline/handle', { ...event, username });
  // Nobody stores it (offline storage off): the sender learns it was not delivered.
  if (!handled) {
    const r = host.replyError(event, 'cancel', 'service-unavailable');
    if (r) await r;
  }
}
