// XEP-0045: Multi-User Chat — messages in a room
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17): §7.4 (sending to all occupants), §7.5 (private messages), §8.1
// (subject), §17.3 (message business rules).
// XEP-0359 0.7.0 (stanza-id by the room), XEP-0421 0.2.0 (occupant-id), XEP-0313 1.1.3 §6.1.2
// (what a room archives), XEP-0334 (no-store / no-permanent-store hints).
//
// A groupchat message is stored before anyone sees it (its stanza-id is the archive id), then
// sent once to every session in the room, serialized once (fanout.ts).
import { randomUUID } from 'node:crypto';
import type { StanzaEvent } from '../../core/module.js';
import { Element, xml } from '../../xml/element.js';
import { isHistoryMessage } from './archive.js';
import { Fanout } from './fanout.js';
import { handleInvitations } from './invitations.js';
import { handleSelfRetraction } from './moderation.js';
import { NS_DATA, NS_HINTS, NS_MUC_REQUEST, NS_MUC_USER, NS_OCCUPANT_ID, NS_REFERENCE, NS_RETRACT, NS_SID } from './namespaces.js';
import type { Occupant } from './occupant.js';
import type { Room } from './room.js';
import { occupantIdEl } from './stanzas.js';
import { handleVoiceApproval, handleVoiceRequest } from './voice.js';

/** Hook fired for a room message to a user none of whose sessions is connected (push). */
export const PUSH_HOOK = 'muc/push-candidate';

export interface PushCandidateEvent {
  /** Room bare JID. */
  room: string;
  /** The user's occupant JID (room@service/nick). */
  occupantJid: string;
  /** The user's real bare JID. */
  userBare: string;
  /** The message as the room sends it (to the user's session). */
  stanza: Element;
  /** The message names the user (nick in the body, or an XEP-0372 mention of them). */
  mention: boolean;
}

/** Error conditions that say the occupant's client is gone (§17.2 ghost removal, Prosody's list). */
const GONE = new Set(['service-unavailable', 'recipient-unavailable', 'item-not-found', 'remote-server-not-found', 'remote-server-timeout', 'gone', 'redirect', 'not-acceptable']);

function errorCondition(stanza: Element): string | undefined {
  const e = stanza.getChild('error');
  return e?.elements().find((c) => c.name !== 'text')?.name;
}

export function handleMessage(room: Room, ev: StanzaEvent): void {
  const { stanza, from, to } = ev;
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'error') {
    const occ = room.bySession.get(from.full);
    const cond = errorCondition(stanza);
    if (occ && cond && GONE.has(cond)) room.removeSession(occ, from.full, [333]);
    return;
  }
  if (to.resource !== undefined) return privateMessage(room, ev, to.resource);
  if (type === 'groupchat') return groupchat(room, ev);
  const x = stanza.getChild('x', NS_MUC_USER);
  if (x && (x.getChild('invite') || x.getChild('decline'))) return handleInvitations(room, ev, x);
  const form = stanza.getChild('x', NS_DATA);
  if (form) {
    const ft = form.getChildren('field').find((f) => f.attrs.var === 'FORM_TYPE')?.getChildText('value');
    if (ft === NS_MUC_REQUEST) return form.attrs.type === 'submit' && form.getChildren('field').some((f) => f.attrs.var === 'muc#request_allow') ? handleVoiceApproval(room, ev, form) : handleVoiceRequest(room, ev, form);
  }
  if (stanza.getChild('body')) return room.reject(ev, 'modify', 'bad-request', "messages to the room go as type 'groupchat'; private messages to room@service/nickname");
}

/** What the room archives (XEP-0313 §6.1.2: body and subject messages; XEP-0424 retractions). */
function archivable(m: Element): boolean {
  if (m.getChild('no-store', NS_HINTS) || m.getChild('no-permanent-store', NS_HINTS)) return false;
  return m.getChild('body') !== undefined || m.getChild('subject') !== undefined || m.getChild('retract', NS_RETRACT) !== undefined || m.getChild('store', NS_HINTS) !== undefined;
}

/**
 * The message as the room sends it: from room/nick, only id and xml:lang kept from the client's
 * attributes, and no stanza-id/occupant-id/muc#user the client could have forged (XEP-0359 §5,
 * XEP-0421 §4, XEP-0313 §8.4).
 */
export function roomCopy(room: Room, stanza: Element, nick: string, type: string): Element {
  const out = new Element('message', { from: room.occupantJid(nick), type, id: stanza.attrs.id, 'xml:lang': stanza.attrs['xml:lang'] });
  for (const c of stanza.children) {
    if (typeof c === 'string') continue;
    const ns = c.attrs.xmlns;
    if (ns === NS_OCCUPANT_ID || ns === NS_MUC_USER) continue;
    if (c.name === 'stanza-id' && ns === NS_SID && c.attrs.by === room.jid) continue;
    out.children.push(c);
  }
  return out;
}

function groupchat(room: Room, ev: StanzaEvent): void {
  const { stanza, from } = ev;
  const occ = room.bySession.get(from.full);
  if (!occ) return room.reject(ev, 'cancel', 'not-acceptable', 'you are not in this room; enter it first');
  if (occ.role !== 'participant' && occ.role !== 'moderator') return room.reject(ev, 'auth', 'forbidden', 'you have no voice in this room');
  const subject = stanza.getChild('subject');
  if (subject && !stanza.getChild('body')) {
    const may = occ.role === 'moderator' || (room.config.changeSubject && occ.role === 'participant') || room.ctx.isServerAdmin(from);
    if (!may) return room.reject(ev, 'auth', 'forbidden', 'only moderators may change the subject of this room');
    room.subject = { text: subject.text(), nick: occ.nick, when: Date.now() };
    if (room.config.persistent) room.ctx.store.saveSubject(room.jid, room.subject).catch((e) => room.ctx.log.error('saving the subject failed', { room: room.jid, error: String(e) }));
  }
  const retract = stanza.getChild('retract', NS_RETRACT);
  if (retract) return handleSelfRetraction(room, ev, occ, retract);
  broadcastMessage(room, ev, occ, roomCopy(room, stanza, occ.nick, 'groupchat'));
}

/** Archives (when the room keeps an archive) then sends `out` to every session in the room. */
export function broadcastMessage(room: Room, ev: StanzaEvent | undefined, occ: Occupant | undefined, out: Element, o: { afterArchive?: () => void } = {}): void {
  const when = Date.now();
  if (occ) out.append(occupantIdEl(occ.occupantId));
  const recipients = room.allRecipients();
  const store = room.config.archive && archivable(out);
  let id: string | undefined;
  let written: Promise<unknown> | undefined;
  if (store) {
    id = randomUUID();
    out.append(xml('stanza-id', { xmlns: NS_SID, id, by: room.jid }));
    written = room.ctx.archive.append(room.jid, id, when, occ?.nick, out, ev?.from.full);
  }
  if (isHistoryMessage(out)) room.history.add({ ...(id !== undefined ? { id } : {}), when, stanza: out });
  const f = new Fanout(out);
  const send = () => {
    for (const r of recipients) room.send(f.to(r.to));
    o.afterArchive?.();
    if (occ && out.getChild('body')) pushCandidates(room, occ, f, out);
  };
  if (!written) return room.outbox.run(send);
  room.outbox.after(written, send, (e) => {
    room.ctx.log.error('archiving a room message failed', { room: room.jid, error: String(e) });
    if (id !== undefined) room.history.remove(id);
    if (ev) room.reject(ev, 'wait', 'internal-server-error', 'the message could not be stored; try again');
  });
}

/**
 * Push (issue 4): a message to an occupant none of whose sessions is connected and awake —
 * all hibernated by stream management (Session.hibernating, or session.data 'hibernated') or
 * gone — is handed to the push module through the `muc/push-candidate` hook.
 */
function pushCandidates(room: Room, sender: Occupant, f: Fanout, out: Element): void {
  const ctx = room.ctx;
  if (!ctx.api.hooks.has(PUSH_HOOK)) return;
  const body = out.getChildText('body') ?? '';
  for (const occ of room.occupants.values()) {
    if (occ === sender) continue;
    const at = occ.bare.indexOf('@');
    if (at < 0 || occ.bare.slice(at + 1) !== ctx.api.host) continue;
    const user = occ.bare.slice(0, at);
    let awake = false;
    for (const s of occ.sessions.values()) {
      const session = ctx.api.sessions.get(user, s.jid.resource ?? '');
      if (session && session.data.get('hibernated') !== true) {
        awake = true;
        break;
      }
    }
    if (awake) continue;
    const event: PushCandidateEvent = {
      room: room.jid,
      occupantJid: room.occupantJid(occ.nick),
      userBare: occ.bare,
      stanza: f.to(occ.primary),
      mention: mentions(body, out, occ, room),
    };
    const r = ctx.api.hooks.fire(PUSH_HOOK, event);
    if (r instanceof Promise) r.catch((e) => room.ctx.log.warn('push hook failed', { error: String(e) }));
  }
}

function mentions(body: string, out: Element, occ: Occupant, room: Room): boolean {
  for (const ref of out.getChildren('reference', NS_REFERENCE)) {
    if (ref.attrs.type !== 'mention') continue;
    const uri = ref.attrs.uri ?? '';
    if (uri === `xmpp:${room.occupantJid(occ.nick)}` || uri === `xmpp:${occ.bare}`) return true;
  }
  const nick = occ.nick.toLowerCase();
  const text = body.toLowerCase();
  let i = text.indexOf(nick);
  while (i >= 0) {
    const before = i === 0 ? '' : text[i - 1]!;
    const after = text[i + nick.length] ?? '';
    if (!/[\p{L}\p{N}_]/u.test(before) && !/[\p{L}\p{N}_]/u.test(after)) return true;
    i = text.indexOf(nick, i + 1);
  }
  return false;
}

/** §7.5: a private message between occupants, from room/sender-nick. */
function privateMessage(room: Room, ev: StanzaEvent, nick: string): void {
  const { stanza, from } = ev;
  const type = stanza.attrs.type ?? 'normal';
  if (type === 'groupchat') return room.reject(ev, 'modify', 'bad-request', 'groupchat messages go to the room, not to an occupant');
  const sender = room.bySession.get(from.full);
  if (!sender) return room.reject(ev, 'cancel', 'not-acceptable', 'only occupants may send private messages; enter the room first');
  const target = room.occupants.get(nick);
  if (!target) return room.reject(ev, 'cancel', 'item-not-found', `nobody is called ${nick} in this room`);
  const p = room.config.allowPm;
  const allowed = p === 'anyone' || (p === 'participants' && (sender.role === 'participant' || sender.role === 'moderator')) || (p === 'moderators' && sender.role === 'moderator');
  if (!allowed) return room.reject(ev, 'auth', 'forbidden', 'private messages are not allowed for you in this room');
  const out = roomCopy(room, stanza, sender.nick, type);
  out.attrs.type = stanza.attrs.type ?? '';
  if (out.attrs.type === '') delete out.attrs.type;
  out.append(xml('x', { xmlns: NS_MUC_USER }), occupantIdEl(sender.occupantId));
  const f = new Fanout(out);
  room.emit([...target.sessions.keys()].map((t) => f.to(t)));
}
