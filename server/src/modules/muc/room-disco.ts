// XEP-0045: Multi-User Chat — service discovery of a room (§6.4, §6.5) with the room info
// form of XEP-0128 (§15.5.4 muc#roominfo) and XEP-0486's avatar hash.
// https://xmpp.org/extensions/xep-0045.html Version 1.35.1 (2024-09-17)
// https://xmpp.org/extensions/xep-0128.html Version 1.0.1 (2019-07-30)
// https://xmpp.org/extensions/xep-0486.html Version 0.1.0 (2024-03-10)
import type { StanzaEvent } from '../../core/module.js';
import { buildForm, type FormField } from '../dataforms.js';
import { xml, type Element } from '../../xml/element.js';
import {
  NS_DISCO_INFO,
  NS_DISCO_ITEMS,
  NS_MAM,
  NS_MAM_EXTENDED,
  NS_MODERATE,
  NS_MODERATE_0,
  NS_MUC,
  NS_MUC_REQUEST,
  NS_MUC_ROOMINFO,
  NS_MUC_SELF_PING,
  NS_MUC_STABLE_ID,
  NS_OCCUPANT_ID,
  NS_PING,
  NS_RETRACT,
  NS_RETRACT_TOMBSTONE,
  NS_SID,
  NS_VCARD,
} from './namespaces.js';
import type { Room } from './room.js';

/** Features of a room: the muc_* ones say what kind of room it is (§6.4, §15.2.2). */
export function roomFeatures(room: Room): string[] {
  const c = room.config;
  const f = [
    NS_DISCO_INFO,
    NS_DISCO_ITEMS,
    NS_MUC,
    NS_MUC_STABLE_ID,
    NS_MUC_SELF_PING,
    NS_OCCUPANT_ID,
    NS_PING,
    NS_VCARD,
    NS_MUC_REQUEST,
    c.public ? 'muc_public' : 'muc_hidden',
    c.persistent ? 'muc_persistent' : 'muc_temporary',
    c.membersOnly ? 'muc_membersonly' : 'muc_open',
    c.moderated ? 'muc_moderated' : 'muc_unmoderated',
    c.password !== '' ? 'muc_passwordprotected' : 'muc_unsecured',
    c.whois === 'anyone' ? 'muc_nonanonymous' : 'muc_semianonymous',
  ];
  if (c.archive) f.push(NS_MAM, NS_MAM_EXTENDED, NS_SID, NS_RETRACT, NS_RETRACT_TOMBSTONE, NS_MODERATE, NS_MODERATE_0);
  return f;
}

export function roomInfoForm(room: Room): Element {
  const c = room.config;
  const fields: FormField[] = [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS_MUC_ROOMINFO] },
    { var: 'muc#roomconfig_roomname', type: 'text-single', label: 'Title', values: [c.name] },
    { var: 'muc#roominfo_description', type: 'text-single', label: 'Description', values: [c.description] },
    { var: 'muc#roominfo_subject', type: 'text-single', label: 'Subject', values: [room.subject?.text ?? ''] },
    { var: 'muc#roominfo_subjectmod', type: 'boolean', label: 'Participants may change the subject', values: [c.changeSubject ? '1' : '0'] },
    { var: 'muc#roomconfig_changesubject', type: 'boolean', label: 'Participants may change the subject', values: [c.changeSubject ? '1' : '0'] },
    { var: 'muc#roominfo_occupants', type: 'text-single', label: 'Number of occupants', values: [String(room.occupants.size)] },
    { var: 'muc#maxhistoryfetch', type: 'text-single', label: 'Messages shown on entering', values: [String(c.historyLength)] },
    { var: 'muc#roomconfig_allowinvites', type: 'boolean', label: 'Occupants may invite', values: [c.allowInvites ? '1' : '0'] },
  ];
  if (c.lang !== '') fields.push({ var: 'muc#roominfo_lang', type: 'text-single', label: 'Language of discussion', values: [c.lang] });
  if (c.whois === 'anyone') {
    const contacts = room.ownersAndAdmins('owner');
    if (contacts.length > 0) fields.push({ var: 'muc#roominfo_contactjid', type: 'jid-multi', label: 'Contact addresses', values: contacts });
  }
  if (room.avatarHashes.length > 0) fields.push({ var: 'muc#roominfo_avatarhash', type: 'text-multi', label: 'Avatar hash', values: room.avatarHashes });
  return buildForm({ type: 'result', fields });
}

export function handleRoomDiscoInfo(room: Room, ev: StanzaEvent): void {
  const node = ev.stanza.getChild('query', NS_DISCO_INFO)?.attrs.node;
  if (node !== undefined && node !== '') {
    room.ctx.error(ev, 'cancel', 'item-not-found', 'no such node');
    return;
  }
  const q = xml('query', { xmlns: NS_DISCO_INFO });
  q.c('identity', { category: 'conference', type: 'text', name: room.config.name || room.local });
  for (const f of roomFeatures(room)) q.c('feature', { var: f });
  q.append(roomInfoForm(room));
  room.ctx.result(ev, q);
}

/** §6.5: occupants are listed to occupants only (their nicks are not for outsiders). */
export function handleRoomDiscoItems(room: Room, ev: StanzaEvent): void {
  const q = xml('query', { xmlns: NS_DISCO_ITEMS });
  if (room.bySession.has(ev.from.full)) for (const occ of room.occupants.values()) q.c('item', { jid: room.occupantJid(occ.nick), name: occ.nick });
  room.ctx.result(ev, q);
}
