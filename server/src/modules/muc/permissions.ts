// XEP-0045: Multi-User Chat — the permission matrix for role and affiliation changes
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17), §5.1.3, §5.2.2, §8 (moderator use cases), §9 (admin), §10 (owner).
//
// Each check answers undefined (allowed) or the stanza error to return. Where the XEP leaves
// room the rules follow Prosody's mod_muc: a moderator may not touch an occupant whose
// affiliation is higher than its own; granting or revoking moderator takes an admin; voice is
// never revoked from admins and owners; admins edit only member/none/outcast entries; only
// owners edit the admin and owner lists. Server admins act as owners of every room.
import type { StanzaErrorCondition, StanzaErrorType } from '../../core/stanza-error.js';
import { AFFILIATION_RANK, type Affiliation, type Role } from './types.js';

export interface Refusal {
  type: StanzaErrorType;
  condition: StanzaErrorCondition;
  text: string;
}

const refuse = (type: StanzaErrorType, condition: StanzaErrorCondition, text: string): Refusal => ({ type, condition, text });

export interface Actor {
  affiliation: Affiliation;
  /** The actor's role in the room, 'none' when not joined. */
  role: Role;
  /** A server admin (config admins): owner powers everywhere. */
  serverAdmin: boolean;
}

function effective(actor: Actor): Affiliation {
  return actor.serverAdmin ? 'owner' : actor.affiliation;
}

/** The role an occupant gets on entering, from its affiliation (§5.1.1, §5.2). */
export function defaultRole(affiliation: Affiliation, moderated: boolean): Role {
  switch (affiliation) {
    case 'owner':
    case 'admin':
      return 'moderator';
    case 'member':
      return 'participant';
    case 'none':
      return moderated ? 'visitor' : 'participant';
    default:
      return 'none';
  }
}

/** Changing an occupant's role (kick = none, voice = participant/visitor, moderator). */
export function checkRoleChange(actor: Actor, target: { affiliation: Affiliation; role: Role }, to: Role): Refusal | undefined {
  const aff = effective(actor);
  const mayModerate = actor.serverAdmin || actor.role === 'moderator' || aff === 'owner' || aff === 'admin';
  if (!mayModerate) return refuse('auth', 'forbidden', 'only moderators may change roles');
  if (AFFILIATION_RANK[target.affiliation] > AFFILIATION_RANK[aff])
    return refuse('cancel', 'not-allowed', `a ${aff === 'none' ? 'moderator' : aff} cannot change the role of an occupant whose affiliation is ${target.affiliation}`);
  // §8.5 / §9.7: voice and moderator status of admins and owners come with their affiliation.
  if ((target.affiliation === 'owner' || target.affiliation === 'admin') && to !== 'moderator' && to !== 'none')
    return refuse('cancel', 'not-allowed', `an ${target.affiliation} is always a moderator`);
  // §9.6 / §9.7: granting or revoking moderator is an admin use case.
  if ((to === 'moderator' || target.role === 'moderator') && aff !== 'owner' && aff !== 'admin')
    return refuse('cancel', 'not-allowed', 'only admins and owners may grant or revoke moderator status');
  return undefined;
}

/** Changing a JID's affiliation (ban = outcast, membership, admin and owner lists). */
export function checkAffiliationChange(actor: Actor, current: Affiliation, to: Affiliation, self: boolean): Refusal | undefined {
  const aff = effective(actor);
  if (aff !== 'owner' && aff !== 'admin') return refuse('auth', 'forbidden', 'only admins and owners may change affiliations');
  // §9.1: banning oneself is refused with conflict (kicking oneself may be allowed).
  if (self && to === 'outcast') return refuse('cancel', 'conflict', 'you cannot ban yourself');
  if (aff === 'owner') return undefined;
  // Admins (§9): membership and bans, for entries below admin.
  if (AFFILIATION_RANK[current] >= AFFILIATION_RANK.admin)
    return refuse('cancel', 'not-allowed', `an admin cannot change the affiliation of an ${current}`);
  if (to === 'admin' || to === 'owner') return refuse('cancel', 'not-allowed', `only owners may grant ${to} status`);
  return undefined;
}

/**
 * Who may read which affiliation list (§9.2, §9.4, §9.8, §10.5, §10.8). Admins and owners read
 * all; occupants whose role may get the member list (muc#roomconfig_getmemberlist) read the
 * member list, and in a non-anonymous room also the admin and owner lists (clients encrypting
 * to everyone in a private group, e.g. OMEMO in Conversations, need all three); the ban list
 * stays with admins and owners.
 */
export function checkListAffiliation(actor: Actor, list: Affiliation, memberListRoles: Role[], nonAnonymous: boolean): Refusal | undefined {
  const aff = effective(actor);
  if (aff === 'owner' || aff === 'admin') return undefined;
  const may = actor.role !== 'none' && memberListRoles.includes(actor.role);
  if (may && (list === 'member' || ((list === 'admin' || list === 'owner') && nonAnonymous))) return undefined;
  return refuse('auth', 'forbidden', `you may not see the ${list} list`);
}

/** Role lists (moderators, participants) are a moderator's view (§8.4, §9.8). */
export function checkListRole(actor: Actor): Refusal | undefined {
  const aff = effective(actor);
  if (actor.serverAdmin || actor.role === 'moderator' || aff === 'owner' || aff === 'admin') return undefined;
  return refuse('auth', 'forbidden', 'only moderators may list occupants by role');
}

/** Owner use cases: configuration, destroy, room vCard (§10). */
export function checkOwner(actor: Actor): Refusal | undefined {
  return effective(actor) === 'owner' ? undefined : refuse('auth', 'forbidden', 'only owners may do this');
}
