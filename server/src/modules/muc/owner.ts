// XEP-0045: Multi-User Chat — the muc#owner namespace: configuration and destruction
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17): §10.1 (creating: instant and reserved rooms), §10.2 (subsequent
// configuration, status codes 104 and 170–173), §10.9 (destroying a room).
import { tryParseJid } from '../../core/jid.js';
import type { StanzaEvent } from '../../core/module.js';
import { formType, formValues, parseForm } from '../dataforms.js';
import { xml } from '../../xml/element.js';
import { applyChanges } from './admin.js';
import { applyConfigSubmission, buildConfigForm, ConfigFormError } from './config-form.js';
import { NS_DATA, NS_MUC_OWNER, NS_MUC_ROOMCONFIG } from './namespaces.js';
import { checkOwner } from './permissions.js';
import type { Room } from './room.js';
import { roomNotice } from './stanzas.js';
import { AFFILIATION_RANK, type Affiliation } from './types.js';

export async function handleOwner(room: Room, ev: StanzaEvent): Promise<void> {
  const ctx = room.ctx;
  const refusal = checkOwner(room.actor(ev.from));
  if (refusal) {
    ctx.error(ev, refusal.type, refusal.condition, refusal.text);
    return;
  }
  const q = ev.stanza.getChild('query', NS_MUC_OWNER)!;
  if (ev.stanza.attrs.type === 'get') {
    const form = buildConfigForm(room.config, room.ctx.settings(), room.ownersAndAdmins('owner'), room.ownersAndAdmins('admin'));
    ctx.result(ev, xml('query', { xmlns: NS_MUC_OWNER }, form));
    return;
  }
  const destroy = q.getChild('destroy');
  if (destroy) {
    const alt = destroy.attrs.jid;
    if (alt !== undefined && !tryParseJid(alt)) {
      ctx.error(ev, 'modify', 'jid-malformed', `the alternate venue '${alt.slice(0, 60)}' is not a valid address`);
      return;
    }
    await destroyRoom(room, { reason: destroy.getChildText('reason'), alternate: alt, password: destroy.getChildText('password') });
    ctx.result(ev);
    return;
  }
  const x = q.getChild('x', NS_DATA);
  const form = parseForm(x);
  if (!form) {
    ctx.error(ev, 'modify', 'bad-request', 'send a data form (or <destroy/>) in the muc#owner query');
    return;
  }
  if (form.type === 'cancel') {
    // §10.1.3: cancelling the first configuration of a reserved room destroys it.
    if (room.locked) await destroyRoom(room, {});
    ctx.result(ev);
    return;
  }
  if (form.type !== 'submit') {
    ctx.error(ev, 'modify', 'bad-request', "the configuration form must be of type 'submit' or 'cancel'");
    return;
  }
  const ft = formType(form);
  if (ft !== undefined && ft !== NS_MUC_ROOMCONFIG) {
    ctx.error(ev, 'modify', 'bad-request', `expected FORM_TYPE ${NS_MUC_ROOMCONFIG}`);
    return;
  }
  let sub;
  try {
    sub = applyConfigSubmission(room.config, formValues(form), room.ctx.settings());
  } catch (e) {
    if (e instanceof ConfigFormError) {
      ctx.error(ev, 'modify', 'not-acceptable', e.message);
      return;
    }
    throw e;
  }
  const before = room.config;
  const initial = room.locked;
  room.config = sub.config;
  room.history.setMax(sub.config.historyLength);
  if (room.locked) {
    room.locked = false;
    if (room.lockTimer) clearTimeout(room.lockTimer);
    room.lockTimer = undefined;
  }
  // The owner and admin lists of the form are the full lists (§10.5, §10.8).
  const changes: Parameters<typeof applyChanges>[2] = [];
  const listChange = (list: string[] | undefined, aff: Affiliation) => {
    if (!list) return;
    for (const j of list) if (room.storedAffiliation(j) !== aff) changes.push({ kind: 'affiliation', jid: j, affiliation: aff });
    for (const j of room.ownersAndAdmins(aff as 'owner' | 'admin')) if (!list.includes(j) && !changes.some((c) => c.kind === 'affiliation' && c.jid === j)) changes.push({ kind: 'affiliation', jid: j, affiliation: 'none' });
  };
  listChange(sub.owners, 'owner');
  listChange(sub.admins, 'admin');
  if (changes.length > 0) await applyChanges(room, ev, changes);

  if (room.config.persistent) {
    await ctx.store.saveAll(room.jid, { config: room.config, created: room.created, affiliations: room.affiliations, ...(room.subject ? { subject: room.subject } : {}), ...(room.vcard ? { vcard: room.vcard } : {}) });
  } else if (before.persistent) await ctx.store.remove(room.jid);

  if (!initial) {
    // §10.2.1: tell the occupants what changed.
    const codes = [104];
    if (before.archive !== room.config.archive) codes.push(room.config.archive ? 170 : 171);
    if (before.whois !== room.config.whois) codes.push(room.config.whois === 'anyone' ? 172 : 173);
    room.notice(roomNotice(room.jid, codes));
  }
  if (room.config.membersOnly && !before.membersOnly) {
    // §9.3/§10.2: a room turned members-only removes everyone without membership (322).
    for (const occ of [...room.occupants.values()]) {
      if (AFFILIATION_RANK[room.occupantAffiliation(occ)] < AFFILIATION_RANK.member) room.removeOccupant(occ, [322], { affiliation: 'none' });
    }
  }
  ctx.result(ev);
  if (room.occupants.size === 0) ctx.emptied(room.jid);
}

/** §10.9: everyone leaves with the reason and the alternate venue; the room and its data go. */
export async function destroyRoom(room: Room, o: { reason?: string | undefined; alternate?: string | undefined; password?: string | undefined }): Promise<void> {
  if (room.destroyed) return;
  room.destroyed = true;
  const d = xml('destroy', { jid: o.alternate });
  if (o.reason) d.c('reason').t(o.reason);
  if (o.password) d.c('password').t(o.password);
  for (const occ of [...room.occupants.values()]) room.removeOccupant(occ, [], { extra: d, affiliation: 'none' });
  await room.ctx.destroyed(room.jid);
}
