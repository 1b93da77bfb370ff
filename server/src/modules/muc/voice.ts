// XEP-0045: Multi-User Chat — requesting voice (§7.13) and approving it (§8.6)
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17); the muc#request form (§15.5.2).
//
// A visitor in a moderated room asks with a muc#request form; the room forwards an approval
// form to every moderator; a moderator who submits it with muc#request_allow true gives the
// visitor voice. Requests are limited to one per voiceRequestInterval per person.
import type { StanzaEvent } from '../../core/module.js';
import { buildForm, formValues, parseBoolean, parseForm } from '../dataforms.js';
import { xml, type Element } from '../../xml/element.js';
import { NS_MUC_REQUEST } from './namespaces.js';
import { checkRoleChange } from './permissions.js';
import type { Room } from './room.js';

export function handleVoiceRequest(room: Room, ev: StanzaEvent, formEl: Element): void {
  const { from } = ev;
  const occ = room.bySession.get(from.full);
  if (!occ) return room.reject(ev, 'cancel', 'not-acceptable', 'enter the room before asking for voice');
  if (!room.config.moderated) return room.reject(ev, 'cancel', 'not-acceptable', 'this room is not moderated: everyone may speak');
  if (occ.role !== 'visitor') return room.reject(ev, 'cancel', 'not-acceptable', 'you already have voice');
  if (!room.config.allowVoiceRequests) return room.reject(ev, 'auth', 'forbidden', 'this room does not take requests for voice');
  const form = parseForm(formEl);
  const role = form ? formValues(form).get('muc#role')?.[0] : undefined;
  if (role !== undefined && role !== 'participant') return room.reject(ev, 'modify', 'bad-request', 'voice requests ask for the participant role');
  const now = Date.now();
  const interval = room.ctx.settings().voiceRequestInterval * 1000;
  const last = room.voiceRequests.get(occ.bare);
  if (last !== undefined && now - last < interval) return room.reject(ev, 'wait', 'resource-constraint', `wait ${Math.ceil((interval - (now - last)) / 1000)} s before asking again`);
  room.voiceRequests.set(occ.bare, now);
  const out: Element[] = [];
  for (const mod of room.occupants.values()) {
    if (mod.role !== 'moderator') continue;
    const approval = buildForm({
      type: 'form',
      title: 'Voice request',
      instructions: [`${occ.nick} asks to speak in ${room.config.name || room.local}. Grant voice?`],
      fields: [
        { var: 'FORM_TYPE', type: 'hidden', values: [NS_MUC_REQUEST] },
        { var: 'muc#role', type: 'list-single', label: 'Requested role', values: ['participant'], options: [{ value: 'participant' }] },
        ...(room.seesJids(mod) ? [{ var: 'muc#jid', type: 'jid-single' as const, label: 'User ID', values: [occ.bare] }] : []),
        { var: 'muc#roomnick', type: 'text-single', label: 'Room nickname', values: [occ.nick] },
        { var: 'muc#request_allow', type: 'boolean', label: 'Grant voice to this person?', values: ['false'] },
      ],
    });
    for (const s of mod.sessions.keys()) out.push(xml('message', { from: room.jid, to: s, id: `voice-${now.toString(36)}` }, approval.clone()));
  }
  room.emit(out);
}

export function handleVoiceApproval(room: Room, ev: StanzaEvent, formEl: Element): void {
  const form = parseForm(formEl);
  if (!form) return room.reject(ev, 'modify', 'bad-request', 'not a data form');
  const v = formValues(form);
  const allow = parseBoolean(v.get('muc#request_allow')?.[0]);
  if (allow === undefined) return room.reject(ev, 'modify', 'bad-request', 'muc#request_allow must be true or false');
  if (!allow) return;
  const nick = v.get('muc#roomnick')?.[0];
  const target = nick === undefined ? undefined : room.occupants.get(nick);
  if (!target) return room.reject(ev, 'cancel', 'item-not-found', 'that person is no longer in the room');
  const refusal = checkRoleChange(room.actor(ev.from), { affiliation: room.occupantAffiliation(target), role: target.role }, 'participant');
  if (refusal) return room.reject(ev, refusal.type, refusal.condition, refusal.text);
  if (target.role !== 'visitor') return;
  target.role = 'participant';
  room.voiceRequests.delete(target.bare);
  room.broadcastPresence(target);
}
