// XEP-0486: MUC Avatars 0.1.0 (2024-03-10) over XEP-0054 vcard-temp 1.2 on the room's bare JID
// https://xmpp.org/extensions/xep-0486.html
//
// Anyone not banned reads the room's vCard; owners (and server admins) set it; an empty
// <vCard/> removes it. The SHA-1 of each PHOTO's data (XEP-0153 hashing) goes into the room
// info form as muc#roominfo_avatarhash, and occupants get a 104 notice to look again.
import { createHash } from 'node:crypto';
import type { StanzaEvent } from '../../core/module.js';
import { xml, type Element } from '../../xml/element.js';
import { xmlSize } from '../../xmpp/stored.js';
import { NS_VCARD } from './namespaces.js';
import { checkOwner } from './permissions.js';
import type { Room } from './room.js';
import { roomNotice } from './stanzas.js';

export function avatarHashes(vcard: Element | undefined): string[] {
  if (!vcard) return [];
  const out: string[] = [];
  for (const photo of vcard.getChildren('PHOTO')) {
    const bin = photo.getChildText('BINVAL');
    if (!bin) continue;
    out.push(createHash('sha1').update(Buffer.from(bin.replace(/\s+/g, ''), 'base64')).digest('hex'));
  }
  return out;
}

export async function handleRoomVcard(room: Room, ev: StanzaEvent): Promise<void> {
  const ctx = room.ctx;
  if (ev.stanza.attrs.type === 'get') {
    if (room.affiliationOf(ev.from) === 'outcast') {
      ctx.error(ev, 'auth', 'forbidden', 'you are banned from this room');
      return;
    }
    if (!room.vcard) {
      ctx.error(ev, 'cancel', 'item-not-found', 'this room has no vCard');
      return;
    }
    ctx.result(ev, room.vcard.clone());
    return;
  }
  const refusal = checkOwner(room.actor(ev.from));
  if (refusal) {
    ctx.error(ev, refusal.type, 'forbidden', 'only owners may set the room avatar');
    return;
  }
  const card = ev.stanza.getChild('vCard', NS_VCARD)!;
  const max = room.ctx.settings().vcardMaxSize;
  if (xmlSize(card) > max) {
    ctx.error(ev, 'modify', 'not-acceptable', `the room vCard is larger than ${max} bytes`);
    return;
  }
  for (const photo of card.getChildren('PHOTO')) {
    const bin = photo.getChildText('BINVAL');
    if (bin !== undefined && !/^[A-Za-z0-9+/=\s]*$/.test(bin)) {
      ctx.error(ev, 'modify', 'bad-request', 'PHOTO BINVAL must be base64');
      return;
    }
  }
  const vcard = card.elements().length === 0 ? undefined : xml('vCard', { xmlns: NS_VCARD }, ...card.children);
  room.vcard = vcard;
  room.avatarHashes = avatarHashes(vcard);
  if (room.config.persistent) await room.ctx.store.saveVcard(room.jid, vcard);
  ctx.result(ev);
  room.notice(roomNotice(room.jid, [104]));
}
