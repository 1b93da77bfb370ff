// XEP-0280: Message Carbons
// https://xmpp.org/extensions/xep-0280.html
// Version 1.0.1 (2021-12-26), urn:xmpp:carbons:2 with the recommended rules
// (urn:xmpp:carbons:rules:0)
// XEP-0334: Message Processing Hints (no-copy)
//
// A resource enables or disables carbons with iq set <enable/>/<disable/> (repeats are no-ops,
// §10.1). Which messages are copied (§6):
//  - chat; normal with a <body/>; any message with IM payload (receipts, chat states, chat
//    markers, end-to-end encrypted content);
//  - an error answering a message that was itself copied (the server remembers the ids of the
//    user's recent copied messages, options.errorMemory entries, to recognise the answer);
//  - never: groupchat, anything from a group chat (a room's messages and private messages from
//    its occupants, recognised by muc#user <x/> or the MUC service's domain), messages with
//    <private xmlns='urn:xmpp:carbons:2'/> or an XEP-0334 <no-copy/> hint, carbons themselves.
// Received (§7): after the RFC 6121 delivery decision, each carbons-enabled resource of the
// recipient that does not get the message itself gets <received/>. The copy carries the
// archive's <stanza-id/> (the mam module stamps it first, priority 60 > 50). The <private/>
// element is removed before delivery to the recipient (§9).
// Sent (§8): each other carbons-enabled resource of the sender gets <sent/>, with the sender's
// archive <stanza-id/> inside the forwarded copy (XEP-0313 §3.5), never on the original.
//
// Bind2 (XEP-0386 §"Inline features"; XEP-0280 §10.2): urn:xmpp:carbons:2 is offered inside
// the SASL2 <bind/>, and an <enable/> there turns carbons on for the new resource before its
// first stanza, with nothing added to <bound/> (the XEP defines no answer).
// For other modules: setCarbons(session, on), carbonsEnabled(session).
import type { Bind2FeaturesEvent, Bind2InlineEvent } from '../core/bind2.js';
import { defineModule, type StanzaEvent } from '../core/module.js';
import type { Session } from '../core/session.js';
import { tryParseJid, type Jid } from '../core/jid.js';
import type { Element } from '../xml/element.js';
import { carbonCopy, isCarbon, NS_CARBONS, NS_CARBONS_RULES } from '../xmpp/xep0280.js';
import { hasHint } from '../xmpp/xep0334.js';
import { stanzaIdElement } from '../xmpp/xep0359.js';
import { messageType } from './mam/archivable.js';

export { NS_CARBONS };

const STATE = 'carbons';

export function setCarbons(session: Session, on: boolean): void {
  if (on) session.data.set(STATE, true);
  else session.data.delete(STATE);
}

export function carbonsEnabled(session: Session): boolean {
  return session.data.get(STATE) === true;
}

const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
/** Payloads that make a message part of an IM conversation even without a body. */
const IM_PAYLOADS = new Set([
  'urn:xmpp:receipts',
  'http://jabber.org/protocol/chatstates',
  'urn:xmpp:chat-markers:0',
  'eu.siacs.conversations.axolotl',
  'urn:xmpp:omemo:2',
  'urn:xmpp:openpgp:0',
  'jabber:x:encrypted',
  'urn:xmpp:jingle-message:0',
]);

function intOption(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : def;
}

export default defineModule({
  name: 'carbons',
  spec: 'XEP-0280: Message Carbons',
  load(api) {
    const errorMemory = intOption(api.options.errorMemory, 10_000);
    const mucDomain = api.config.muc.enabled ? `${api.config.muc.subdomain}.${api.host}` : undefined;
    api.disco.addFeature(NS_CARBONS);
    api.disco.addFeature(NS_CARBONS_RULES);

    // "<user bare>\n<peer bare>\n<id>" of copied outgoing messages, oldest first.
    const copiedIds = new Set<string>();
    const rememberCopied = (user: string, peer: string, id: string | undefined) => {
      if (id === undefined || errorMemory === 0) return;
      const k = `${user}\n${peer}\n${id}`;
      copiedIds.delete(k);
      copiedIds.add(k);
      if (copiedIds.size > errorMemory) copiedIds.delete(copiedIds.values().next().value!);
    };

    const fromMuc = (stanza: Element, peer: Jid): boolean =>
      stanza.getChild('x', NS_MUC_USER) !== undefined || (mucDomain !== undefined && peer.domain === mucDomain);

    /** §6 rules, for a message between `user` (bare) and `peer`. */
    const eligible = (stanza: Element, direction: 'sent' | 'received', user: string, peer: Jid): boolean => {
      if (stanza.getChild('private', NS_CARBONS) || hasHint(stanza, 'no-copy') || isCarbon(stanza)) return false;
      const type = messageType(stanza);
      if (type === 'groupchat' || type === 'headline') return false;
      if (direction === 'received' && fromMuc(stanza, peer)) return false;
      if (type === 'error') return direction === 'received' && stanza.attrs.id !== undefined && copiedIds.has(`${user}\n${peer.bare}\n${stanza.attrs.id}`);
      if (type === 'chat') return true;
      if (stanza.getChild('body')) return true;
      return stanza.elements().some((c) => c.attrs.xmlns !== undefined && IM_PAYLOADS.has(c.attrs.xmlns));
    };

    const enabledSessions = (username: string): Session[] =>
      api.sessions.sessionsOf(username).filter((s) => s.jid !== undefined && carbonsEnabled(s));

    /** The sessions RFC 6121 §8.5 hands the message to (mirrors the messages module). */
    const directRecipients = (username: string, to: Jid, type: string): Set<Session> => {
      if (to.resource !== undefined) {
        const s = api.sessions.get(username, to.resource);
        if (s) return new Set([s]);
      }
      const targets = api.sessions.sessionsOf(username).filter((s) => s.presence !== undefined && s.jid !== undefined && s.priority >= 0);
      if (type === 'headline' || targets.length === 0) return new Set(targets);
      const top = Math.max(...targets.map((s) => s.priority));
      return new Set(targets.filter((s) => s.priority === top));
    };

    api.hook<Bind2FeaturesEvent>('bind2-features', ({ inline }) => void inline.c('feature', { var: NS_CARBONS }));
    api.hook<Bind2InlineEvent>('bind2-inline/' + NS_CARBONS, ({ session, element }) => {
      if (element.name !== 'enable') return false;
      setCarbons(session, true);
      return true;
    });

    api.hook('iq-set/self/' + NS_CARBONS, (event) => {
      const { origin } = event;
      if (origin.kind !== 'c2s' || origin.host !== api.host || event.from.domain !== api.host) return api.replyError(event, 'cancel', 'not-allowed');
      const el = event.stanza.firstElement()!;
      if (el.name === 'enable') setCarbons(origin, true);
      else if (el.name === 'disable') setCarbons(origin, false);
      else return api.replyError(event, 'modify', 'bad-request');
      return api.replyResult(event);
    });

    // ---- Received ----

    const received = (event: StanzaEvent): boolean => {
      const { stanza, from, to } = event;
      const username = to.local;
      if (username === undefined) return false;
      const isPrivate = stanza.getChild('private', NS_CARBONS) !== undefined;
      const copies = enabledSessions(username);
      if (copies.length > 0 && eligible(stanza, 'received', to.bare, from)) {
        const direct = directRecipients(username, to, messageType(stanza));
        for (const s of copies) {
          if (direct.has(s)) continue;
          s.send(carbonCopy('received', stanza, to.bare, s.jid!.full));
        }
      }
      // §9: the receiving server removes <private/> before delivering.
      if (isPrivate) stanza.removeChildren('private', NS_CARBONS);
      return false;
    };
    api.hook('message/bare', received, 50);
    api.hook('message/full', received, 50);

    // ---- Sent ----

    api.hook('pre-message/out', (event) => {
      const { stanza, origin, to } = event;
      const username = origin.username;
      if (username === undefined || !origin.jid) return false;
      const user = origin.jid.bare;
      const peer = stanza.attrs.to === undefined ? to : (tryParseJid(stanza.attrs.to) ?? to);
      if (!eligible(stanza, 'sent', user, peer)) return false;
      rememberCopied(user, peer.bare, stanza.attrs.id);
      const copies = enabledSessions(username).filter((s) => s !== origin);
      if (copies.length === 0) return false;
      const archived = event.outgoingArchiveId;
      for (const s of copies) {
        const copy = carbonCopy('sent', stanza, user, s.jid!.full);
        if (archived) copy.getChild('sent', NS_CARBONS)!.getChild('forwarded')!.getChild('message')!.append(stanzaIdElement(archived.id, archived.by));
        s.send(copy);
      }
      return false;
    }, 40);
  },
});
