// XEP-0045: Multi-User Chat — mediated invitations and declines (§7.8.2, §7.8.3)
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17)
// XEP-0249: Direct MUC Invitations 1.2 (2011-09-22): the room's invitation also carries a
// jabber:x:conference element, so clients that only read direct invitations see it too.
//
// In a members-only room only admins and owners invite, unless the owner allowed occupants to
// (muc#roomconfig_allowinvites); an invitation from someone allowed to invite to a members-only
// room makes the invitee a member, as Prosody and ejabberd do, or the invitee could not enter.
// A decline goes back only to someone who really invited that person, so the room cannot be
// used to send messages to arbitrary addresses.
import { tryParseJid } from '../../core/jid.js';
import type { StanzaEvent } from '../../core/module.js';
import { xml, type Element } from '../../xml/element.js';
import { NS_CONFERENCE, NS_MUC_USER } from './namespaces.js';
import type { Room } from './room.js';
import { AFFILIATION_RANK } from './types.js';

export function handleInvitations(room: Room, ev: StanzaEvent, x: Element): void {
  const invites = x.getChildren('invite');
  if (invites.length > 0) return invite(room, ev, invites);
  const decline = x.getChild('decline');
  if (decline) return declineInvitation(room, ev, decline);
}

function invite(room: Room, ev: StanzaEvent, invites: Element[]): void {
  const { from } = ev;
  const max = room.ctx.settings().maxInvitesPerMessage;
  if (invites.length > max) return room.reject(ev, 'modify', 'policy-violation', `at most ${max} invitations per message`);
  const occ = room.bySession.get(from.full);
  const aff = room.affiliationOf(from);
  const privileged = AFFILIATION_RANK[aff] >= AFFILIATION_RANK.admin;
  if (!occ && !privileged) return room.reject(ev, 'cancel', 'not-acceptable', 'enter the room before inviting others');
  if (room.config.membersOnly && !privileged && !room.config.allowInvites) return room.reject(ev, 'auth', 'forbidden', 'only admins and owners may invite people to this room');
  const targets: { jid: string; reason: string | undefined }[] = [];
  for (const inv of invites) {
    const to = tryParseJid(inv.attrs.to);
    if (!to) return room.reject(ev, 'modify', 'jid-malformed', `'${(inv.attrs.to ?? '').slice(0, 60)}' is not a valid address to invite`);
    targets.push({ jid: to.bare === to.full ? to.bare : to.full, reason: inv.getChildText('reason') });
  }
  let changed = false;
  for (const t of targets) {
    const bare = tryParseJid(t.jid)!.bare;
    if (room.config.membersOnly && room.storedAffiliation(bare) === 'none') {
      room.affiliations.set(bare, { affiliation: 'member' });
      changed = true;
    }
    let set = room.invited.get(bare);
    if (!set) {
      // Kept in memory only to route declines; the oldest entries go first when it grows.
      if (room.invited.size >= 1000) room.invited.delete(room.invited.keys().next().value!);
      room.invited.set(bare, (set = new Set()));
    }
    set.add(from.bare);
    const x = xml('x', { xmlns: NS_MUC_USER });
    const invEl = x.c('invite', { from: from.bare });
    if (t.reason) invEl.c('reason').t(t.reason);
    if (room.config.password !== '') x.c('password').t(room.config.password);
    const m = xml(
      'message',
      { from: room.jid, to: t.jid, id: `inv-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}` },
      x,
      xml('x', { xmlns: NS_CONFERENCE, jid: room.jid, reason: t.reason, password: room.config.password || undefined }),
      xml('body', {}, `${from.bare} invites you to the room ${room.jid}${t.reason ? `: ${t.reason}` : ''}`),
    );
    room.emit([m]);
  }
  if (changed && room.config.persistent) {
    room.ctx.store.saveAffiliations(room.jid, room.affiliations).catch((e) => room.ctx.log.error('saving members failed', { room: room.jid, error: String(e) }));
  }
}

function declineInvitation(room: Room, ev: StanzaEvent, decline: Element): void {
  const { from } = ev;
  const to = tryParseJid(decline.attrs.to);
  if (!to) return room.reject(ev, 'modify', 'jid-malformed', 'a decline names the inviter in its to attribute');
  const inviters = room.invited.get(from.bare);
  if (!inviters || !inviters.has(to.bare)) return room.reject(ev, 'cancel', 'not-acceptable', 'no invitation from that address to decline');
  inviters.delete(to.bare);
  if (inviters.size === 0) room.invited.delete(from.bare);
  const x = xml('x', { xmlns: NS_MUC_USER });
  const d = x.c('decline', { from: from.bare });
  const reason = decline.getChildText('reason');
  if (reason) d.c('reason').t(reason);
  room.emit([xml('message', { from: room.jid, to: to.full, id: ev.stanza.attrs.id }, x)]);
}
