// XEP-0045: Multi-User Chat — the muc#admin namespace: roles and affiliations
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17): §8.2 kick, §8.3–8.5 voice, §9.1–9.8 ban, members, moderators,
// §10.3–10.8 owners and admins; the matrix itself is in permissions.ts.
//
// A set is checked item by item before anything changes (all or nothing), then applied:
// occupants hear about their new role or affiliation, or are removed (307 kick, 301 ban, 321
// membership lost in a members-only room). Hook `muc/affiliation-changed` ({ room, jid,
// affiliation, previous }) lets other modules react (bookmarks: autojoin off when banned).
import { prepareResourcepart, tryParseJid } from '../../core/jid.js';
import type { StanzaEvent } from '../../core/module.js';
import { xml, type Element } from '../../xml/element.js';
import { NS_MUC_ADMIN } from './namespaces.js';
import type { Occupant } from './occupant.js';
import { checkAffiliationChange, checkListAffiliation, checkListRole, checkRoleChange, defaultRole, type Refusal } from './permissions.js';
import type { Room } from './room.js';
import { AFFILIATION_RANK, isAffiliation, isRole, type Affiliation, type AffiliationEntry, type Role } from './types.js';

export const AFFILIATION_HOOK = 'muc/affiliation-changed';

export interface AffiliationChangedEvent {
  room: string;
  /** Bare JID (or domain) whose affiliation changed. */
  jid: string;
  affiliation: Affiliation;
  previous: Affiliation;
}

type Change =
  | { kind: 'role'; target: Occupant; role: Role; reason?: string }
  | { kind: 'affiliation'; jid: string; affiliation: Affiliation; nick?: string; reason?: string };

export async function handleAdmin(room: Room, ev: StanzaEvent): Promise<void> {
  const ctx = room.ctx;
  const q = ev.stanza.getChild('query', NS_MUC_ADMIN)!;
  const items = q.getChildren('item');
  if (items.length === 0) {
    ctx.error(ev, 'modify', 'bad-request', 'a muc#admin query holds at least one item');
    return;
  }
  if (ev.stanza.attrs.type === 'get') return list(room, ev, items[0]!);
  const fail = (r: Refusal) => void ctx.error(ev, r.type, r.condition, r.text);
  const actor = room.actor(ev.from);
  const changes: Change[] = [];
  for (const item of items) {
    const { role, affiliation } = item.attrs;
    const reason = item.getChildText('reason');
    if (role !== undefined && affiliation !== undefined) return fail({ type: 'modify', condition: 'bad-request', text: 'an item changes a role or an affiliation, not both' });
    if (role !== undefined) {
      if (!isRole(role)) return fail({ type: 'modify', condition: 'bad-request', text: `unknown role '${role.slice(0, 30)}'` });
      const target = findOccupant(room, item);
      if (typeof target === 'string') return fail({ type: 'modify', condition: target === 'bad' ? 'jid-malformed' : 'item-not-found', text: target === 'bad' ? 'the nick or jid of that item is not valid' : 'nobody with that nickname is in the room' });
      const refusal = checkRoleChange(actor, { affiliation: room.occupantAffiliation(target), role: target.role }, role);
      if (refusal) return fail(refusal);
      changes.push({ kind: 'role', target, role, ...(reason !== undefined ? { reason } : {}) });
      continue;
    }
    if (affiliation !== undefined) {
      if (!isAffiliation(affiliation)) return fail({ type: 'modify', condition: 'bad-request', text: `unknown affiliation '${affiliation.slice(0, 30)}'` });
      let jid: string | undefined;
      if (item.attrs.jid !== undefined) {
        const j = tryParseJid(item.attrs.jid);
        if (!j) return fail({ type: 'modify', condition: 'jid-malformed', text: `'${item.attrs.jid.slice(0, 60)}' is not a valid address` });
        jid = j.bare;
      } else if (item.attrs.nick !== undefined) {
        // §9.3: membership may be granted by nick to someone in the room.
        const target = findOccupant(room, item);
        if (typeof target === 'string') return fail({ type: 'cancel', condition: 'item-not-found', text: 'nobody with that nickname is in the room' });
        jid = target.bare;
      } else return fail({ type: 'modify', condition: 'bad-request', text: 'an affiliation item names a jid' });
      const current = room.storedAffiliation(jid);
      const refusal = checkAffiliationChange(actor, current, affiliation, jid === ev.from.bare);
      if (refusal) return fail(refusal);
      let nick: string | undefined;
      if (item.attrs.nick !== undefined && item.attrs.jid !== undefined) {
        try {
          nick = prepareResourcepart(item.attrs.nick);
        } catch {
          return fail({ type: 'modify', condition: 'jid-malformed', text: 'that nickname is not valid' });
        }
      }
      changes.push({ kind: 'affiliation', jid, affiliation, ...(nick !== undefined ? { nick } : {}), ...(reason !== undefined ? { reason } : {}) });
      continue;
    }
    return fail({ type: 'modify', condition: 'bad-request', text: 'an item has a role or an affiliation attribute' });
  }
  // §10.6: the room keeps at least one owner.
  const owners = new Set(room.ownersAndAdmins('owner'));
  for (const c of changes) if (c.kind === 'affiliation') c.affiliation === 'owner' ? owners.add(c.jid) : owners.delete(c.jid);
  if (owners.size === 0) return fail({ type: 'cancel', condition: 'conflict', text: 'a room needs at least one owner' });

  await applyChanges(room, ev, changes);
  ctx.result(ev);
}

function findOccupant(room: Room, item: Element): Occupant | 'bad' | 'missing' {
  if (item.attrs.nick !== undefined) {
    let nick: string;
    try {
      nick = prepareResourcepart(item.attrs.nick);
    } catch {
      return 'bad';
    }
    return room.occupants.get(nick) ?? 'missing';
  }
  if (item.attrs.jid !== undefined) {
    const j = tryParseJid(item.attrs.jid);
    if (!j) return 'bad';
    return room.bySession.get(j.full) ?? room.occupantsOf(j.bare)[0] ?? 'missing';
  }
  return 'missing';
}

/** Applies checked changes, tells the occupants, persists. */
export async function applyChanges(room: Room, ev: StanzaEvent | undefined, changes: Change[]): Promise<void> {
  const actorNick = ev ? room.bySession.get(ev.from.full)?.nick : undefined;
  const who = (reason: string | undefined) => ({ ...(actorNick !== undefined ? { actorNick } : {}), ...(reason ? { reason } : {}) });
  let affChanged = false;
  for (const c of changes) {
    if (c.kind === 'role') {
      if (!room.occupants.has(c.target.nick)) continue;
      if (c.role === 'none') {
        room.removeOccupant(c.target, [307], who(c.reason));
        continue;
      }
      c.target.role = c.role;
      room.broadcastPresence(c.target, { item: c.reason ? { reason: c.reason } : {} });
      continue;
    }
    const previous = room.storedAffiliation(c.jid);
    if (c.affiliation === 'none') room.affiliations.delete(c.jid);
    else {
      const entry: AffiliationEntry = { affiliation: c.affiliation };
      if (c.nick !== undefined) entry.nick = c.nick;
      if (c.reason) entry.reason = c.reason;
      room.affiliations.set(c.jid, entry);
    }
    affChanged = true;
    for (const occ of room.occupantsOf(c.jid)) {
      const aff = room.occupantAffiliation(occ);
      if (aff === 'outcast') {
        room.removeOccupant(occ, [301], { ...who(c.reason), affiliation: 'outcast' });
        continue;
      }
      if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) {
        room.removeOccupant(occ, [321], { ...who(c.reason), affiliation: aff });
        continue;
      }
      occ.role = roleAfter(occ.role, previous, aff, room.config.moderated);
      room.broadcastPresence(occ);
    }
    const event: AffiliationChangedEvent = { room: room.jid, jid: c.jid, affiliation: c.affiliation, previous };
    room.ctx.api.hooks.fireAsync(AFFILIATION_HOOK, event).catch(() => false);
  }
  if (affChanged && room.config.persistent) await room.ctx.store.saveAffiliations(room.jid, room.affiliations);
}

/**
 * The role after an affiliation change (§5.2 and §9/§10 notes): admins and owners are moderators;
 * someone who lost admin or owner falls back to the default of the new affiliation; otherwise the
 * role stays, except that new members get voice.
 */
export function roleAfter(current: Role, previous: Affiliation, next: Affiliation, moderated: boolean): Role {
  if (next === 'owner' || next === 'admin') return 'moderator';
  if (previous === 'owner' || previous === 'admin') return defaultRole(next, moderated);
  if (next === 'member' && current === 'visitor') return 'participant';
  return current;
}

function list(room: Room, ev: StanzaEvent, item: Element): void {
  const ctx = room.ctx;
  const actor = room.actor(ev.from);
  const { role, affiliation } = item.attrs;
  const q = xml('query', { xmlns: NS_MUC_ADMIN });
  if (affiliation !== undefined) {
    if (!isAffiliation(affiliation) || affiliation === 'none') {
      ctx.error(ev, 'modify', 'bad-request', 'list owner, admin, member or outcast');
      return;
    }
    const refusal = checkListAffiliation(actor, affiliation, room.config.getMemberList, room.nonAnonymous);
    if (refusal) {
      ctx.error(ev, refusal.type, refusal.condition, refusal.text);
      return;
    }
    for (const [jid, e] of room.affiliations) {
      if (e.affiliation !== affiliation) continue;
      const el = q.c('item', { affiliation, jid, nick: e.nick });
      if (e.reason) el.c('reason').t(e.reason);
    }
    ctx.result(ev, q);
    return;
  }
  if (role !== undefined) {
    if (!isRole(role) || role === 'none') {
      ctx.error(ev, 'modify', 'bad-request', 'list moderator, participant or visitor');
      return;
    }
    const refusal = checkListRole(actor);
    if (refusal) {
      ctx.error(ev, refusal.type, refusal.condition, refusal.text);
      return;
    }
    for (const occ of room.occupants.values()) {
      if (occ.role !== role) continue;
      q.c('item', { affiliation: room.occupantAffiliation(occ), jid: occ.primary, nick: occ.nick, role });
    }
    ctx.result(ev, q);
    return;
  }
  ctx.error(ev, 'modify', 'bad-request', 'an item names the role or affiliation to list');
}
