// XEP-0045: Multi-User Chat — iqs to a room and to its occupants
// https://xmpp.org/extensions/xep-0045.html Version 1.35.1 (2024-09-17), business rules for iqs:
// an iq to an occupant is forwarded from room/nick; vCard requests go to the occupant's bare JID.
// XEP-0410: MUC Self-Ping (Schrödinger's Chat) 1.1.0 (2021-03-02)
// https://xmpp.org/extensions/xep-0410.html
//
// Iqs to room/nick are forwarded under an id that names the asker, so the answer finds its way
// back (the same approach as Prosody). Self-ping: a joined client pinging its own occupant JID is
// answered by the room itself (muc#self-ping-optimization); a session that is not joined gets
// not-acceptable, which tells the client to join again.
import { tryParseJid } from '../../core/jid.js';
import type { StanzaEvent } from '../../core/module.js';
import { Element } from '../../xml/element.js';
import { handleAdmin } from './admin.js';
import { handleMam } from './mam.js';
import { handleModerate } from './moderation.js';
import {
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_FASTEN,
  NS_MAM,
  NS_MODERATE,
  NS_MUC_ADMIN,
  NS_MUC_OWNER,
  NS_PING,
  NS_VCARD,
} from './namespaces.js';
import { handleOwner } from './owner.js';
import { handleRoomDiscoInfo, handleRoomDiscoItems } from './room-disco.js';
import { handleRoomVcard } from './room-vcard.js';
import type { Room } from './room.js';

export function handleRoomIq(room: Room, ev: StanzaEvent): void | Promise<void> {
  const { stanza, to } = ev;
  const type = stanza.attrs.type;
  if (to.resource !== undefined) return iqToOccupant(room, ev, to.resource);
  if (type !== 'get' && type !== 'set') return;
  const ctx = room.ctx;
  const payload = stanza.firstElement();
  const ns = payload?.attrs.xmlns;
  const name = payload?.name;
  if (ns === NS_DISCO_INFO && type === 'get') return handleRoomDiscoInfo(room, ev);
  if (ns === NS_DISCO_ITEMS && type === 'get') return handleRoomDiscoItems(room, ev);
  if (ns === NS_MUC_ADMIN && name === 'query') return handleAdmin(room, ev);
  if (ns === NS_MUC_OWNER && name === 'query') return handleOwner(room, ev);
  if (ns === NS_MAM) return handleMam(room, ev);
  if (ns === NS_VCARD && name === 'vCard') return handleRoomVcard(room, ev);
  if (ns === NS_PING && type === 'get') {
    ctx.result(ev);
    return;
  }
  if (type === 'set' && ((ns === NS_MODERATE && name === 'moderate') || (ns === NS_FASTEN && name === 'apply-to'))) return handleModerate(room, ev);
  ctx.error(ev, 'cancel', 'service-unavailable');
}

const PREFIX = 'mucfwd.';

function encodeId(id: string, asker: string): string {
  return PREFIX + Buffer.from(id).toString('base64url') + '.' + Buffer.from(asker).toString('base64url');
}

function decodeId(id: string | undefined): { id: string; asker: string } | undefined {
  if (!id || !id.startsWith(PREFIX)) return undefined;
  const [a, b] = id.slice(PREFIX.length).split('.');
  if (a === undefined || b === undefined) return undefined;
  return { id: Buffer.from(a, 'base64url').toString(), asker: Buffer.from(b, 'base64url').toString() };
}

function iqToOccupant(room: Room, ev: StanzaEvent, nick: string): void {
  const { stanza, from } = ev;
  const type = stanza.attrs.type;
  if (type === 'result' || type === 'error') {
    // An answer to a forwarded iq: from the occupant (or its server, for vCards) to room/asker-nick.
    const d = decodeId(stanza.attrs.id);
    if (!d) return;
    const answerer = room.bySession.get(from.full) ?? (from.resource === undefined ? room.occupantsOf(from.bare)[0] : undefined);
    if (!answerer) return;
    const askerOcc = room.bySession.get(d.asker);
    if (!askerOcc || askerOcc.nick !== nick) return;
    const out = new Element('iq', { type, id: d.id, from: room.occupantJid(answerer.nick), to: d.asker }, stanza.children);
    room.emit([out]);
    return;
  }
  const sender = room.bySession.get(from.full);
  // XEP-0410 §3: not-acceptable means "you are not joined".
  if (!sender) return room.ctx.error(ev, 'cancel', 'not-acceptable', 'you are not in this room'), undefined;
  const target = room.occupants.get(nick);
  if (!target) return room.ctx.error(ev, 'cancel', 'item-not-found', `nobody is called ${nick} in this room`), undefined;
  const payload = stanza.firstElement();
  if (target === sender && payload?.name === 'ping' && payload.attrs.xmlns === NS_PING) {
    room.ctx.result(ev);
    return;
  }
  // vCards belong to the user, not to one device (Prosody sends them to the bare JID).
  const toJid = payload?.name === 'vCard' && payload.attrs.xmlns === NS_VCARD && type === 'get' ? target.bare : target.primary;
  if (!tryParseJid(toJid)) return;
  const out = new Element('iq', { type, id: encodeId(stanza.attrs.id ?? '', from.full), from: room.occupantJid(sender.nick), to: toJid }, stanza.children);
  room.emit([out]);
}
