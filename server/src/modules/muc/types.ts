// XEP-0045: Multi-User Chat — roles, affiliations and the room's configuration
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17), §5 (Roles and Affiliations) and §15.5.3 (muc#roomconfig).

export type Role = 'moderator' | 'participant' | 'visitor' | 'none';
export type Affiliation = 'owner' | 'admin' | 'member' | 'none' | 'outcast';

export const ROLES: readonly Role[] = ['moderator', 'participant', 'visitor', 'none'];
export const AFFILIATIONS: readonly Affiliation[] = ['owner', 'admin', 'member', 'none', 'outcast'];

/** Affiliations ordered by privilege, for "higher than" comparisons (§5.2). */
export const AFFILIATION_RANK: Record<Affiliation, number> = { outcast: 0, none: 1, member: 2, admin: 3, owner: 4 };
export const ROLE_RANK: Record<Role, number> = { none: 0, visitor: 1, participant: 2, moderator: 3 };

export function isRole(s: string | undefined): s is Role {
  return s !== undefined && (ROLES as readonly string[]).includes(s);
}

export function isAffiliation(s: string | undefined): s is Affiliation {
  return s !== undefined && (AFFILIATIONS as readonly string[]).includes(s);
}

export type PmPolicy = 'anyone' | 'participants' | 'moderators' | 'none';
export type Whois = 'moderators' | 'anyone';

/** One room's settings: what the owner sets through the muc#roomconfig form (§10.2). */
export interface RoomConfig {
  name: string;
  description: string;
  lang: string;
  persistent: boolean;
  public: boolean;
  membersOnly: boolean;
  moderated: boolean;
  /** Empty: no password. */
  password: string;
  whois: Whois;
  /** Participants (not only moderators) may change the subject. */
  changeSubject: boolean;
  /** Occupants (not only admins and owners) may invite to a members-only room. */
  allowInvites: boolean;
  allowPm: PmPolicy;
  /** Most occupants at once; the service's maxOccupants caps it. */
  maxUsers: number;
  /** Roles whose presence is broadcast to the room. */
  presenceBroadcast: Role[];
  /** Roles that may fetch the member list (besides admins and owners). */
  getMemberList: Role[];
  /** Messages are kept in the room archive (XEP-0313) and the room says so (status 170). */
  archive: boolean;
  /** Messages shown to someone entering (history). */
  historyLength: number;
  /** Days the archive keeps messages; 0: forever; null: the service default. */
  retentionDays: number | null;
  /** Visitors may ask for voice in a moderated room (§7.13). */
  allowVoiceRequests: boolean;
}

export interface Subject {
  text: string;
  /** Nick of whoever set it (the subject message comes from room/nick). */
  nick: string;
  when: number;
}

export interface AffiliationEntry {
  affiliation: Affiliation;
  /** Reserved nickname (§9.3: a nick given with the membership). */
  nick?: string;
  reason?: string;
}

export type StatusCode =
  | 100 | 101 | 102 | 103 | 104 | 110 | 170 | 171 | 172 | 173 | 174 | 201 | 210
  | 301 | 303 | 307 | 321 | 322 | 332 | 333;
