// XEP-0045: Multi-User Chat — a room: its state, who is in it, and what it tells them
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17): §7.1–7.2 (entering), §7.6 (nick change), §7.7 (presence
// changes), §7.14 (exiting), §17.2 (presence business rules)
// XEP-0421 0.2.0 (occupant ids on every presence and message from the room).
//
// State changes happen synchronously when a stanza is processed; what the room sends goes
// through its Outbox so that it leaves in the order the room decided it (a groupchat message
// waiting for its archive write holds back what was decided after it). Messages, iqs,
// administration and the archive live in the room-*.ts files beside this one.
import type { Jid } from '../../core/jid.js';
import type { StanzaEvent } from '../../core/module.js';
import type { StanzaErrorCondition, StanzaErrorType } from '../../core/stanza-error.js';
import { Element, xml } from '../../xml/element.js';
import type { RoomContext } from './context.js';
import { Fanout, Outbox } from './fanout.js';
import { History, HistoryRequestError, parseHistoryRequest, type HistoryRequest } from './history.js';
import { NS_MUC } from './namespaces.js';
import { Occupant, type OccupantSession } from './occupant.js';
import { occupantId } from './occupant-id.js';
import { defaultRole, type Actor } from './permissions.js';
import { avatarHashes } from './room-vcard.js';
import { mucUserX, occupantIdEl, roomError, sanitizePresence, type ItemInfo } from './stanzas.js';
import { AFFILIATION_RANK, type Affiliation, type AffiliationEntry, type Role, type RoomConfig, type Subject } from './types.js';

export interface RoomInit {
  config: RoomConfig;
  affiliations: Map<string, AffiliationEntry>;
  created: number;
  subject?: Subject;
  vcard?: Element;
  locked?: boolean;
}

/** How an occupant's presence reads for one kind of recipient. */
type Variant = 'plain' | 'jid' | 'self';

export class Room {
  readonly jid: string;
  readonly local: string;
  config: RoomConfig;
  readonly affiliations: Map<string, AffiliationEntry>;
  readonly created: number;
  subject: Subject | undefined;
  vcard: Element | undefined;
  /** SHA-1 of the vCard's photos (XEP-0486 muc#roominfo_avatarhash). */
  avatarHashes: string[];
  /** Reserved room (§10.1.3): nobody but owners may enter until the form is submitted. */
  locked: boolean;
  lockTimer: NodeJS.Timeout | undefined;
  destroyed = false;

  readonly occupants = new Map<string, Occupant>();
  readonly bySession = new Map<string, Occupant>();
  readonly history: History;
  readonly outbox: Outbox;
  /** Who invited whom (invitee bare JID → inviter JIDs), so declines go only to real inviters. */
  readonly invited = new Map<string, Set<string>>();
  /** Last voice request per bare JID (ms), for the rate limit. */
  readonly voiceRequests = new Map<string, number>();
  /** Recipients of room broadcasts, rebuilt when someone enters or leaves. */
  private recipients: { to: string; occ: Occupant }[] | undefined;

  constructor(
    readonly ctx: RoomContext,
    jid: Jid,
    init: RoomInit,
  ) {
    this.jid = jid.bare;
    this.local = jid.local!;
    this.config = init.config;
    this.affiliations = init.affiliations;
    this.created = init.created;
    this.subject = init.subject;
    this.vcard = init.vcard;
    this.avatarHashes = avatarHashes(init.vcard);
    this.locked = init.locked ?? false;
    this.history = new History(init.config.historyLength);
    this.outbox = new Outbox((e) => ctx.log.error('room output failed', { room: this.jid, error: e instanceof Error ? e.stack : String(e) }));
  }

  // ------------------------------------------------------------------ affiliations and roles

  /** Stored affiliation of a bare JID, by the XEP's match order (bare JID, then domain). */
  storedAffiliation(bare: string): Affiliation {
    const e = this.affiliations.get(bare);
    if (e) return e.affiliation;
    const at = bare.indexOf('@');
    if (at >= 0) {
      const d = this.affiliations.get(bare.slice(at + 1));
      if (d) return d.affiliation;
    }
    return 'none';
  }

  /** The affiliation that counts for `jid`: server admins are owners of every room. */
  affiliationOf(jid: Jid): Affiliation {
    if (this.ctx.isServerAdmin(jid)) return 'owner';
    return this.storedAffiliation(jid.bare);
  }

  actor(jid: Jid): Actor {
    return { affiliation: this.storedAffiliation(jid.bare), role: this.bySession.get(jid.full)?.role ?? 'none', serverAdmin: this.ctx.isServerAdmin(jid) };
  }

  /** Affiliation shown for an occupant (effective: server admins show as owners). */
  occupantAffiliation(occ: Occupant): Affiliation {
    return this.affiliationOf(occ.primarySession.jid);
  }

  ownersAndAdmins(which: 'owner' | 'admin'): string[] {
    return [...this.affiliations].filter(([, e]) => e.affiliation === which).map(([j]) => j);
  }

  get nonAnonymous(): boolean {
    return this.config.whois === 'anyone';
  }

  /** May `viewer` see real JIDs (§7.2.3: moderators in semi-anonymous rooms, everyone otherwise)? */
  seesJids(viewer: Occupant | undefined, viewerJid?: Jid): boolean {
    if (this.nonAnonymous) return true;
    if (viewer?.role === 'moderator') return true;
    if (viewerJid) {
      const a = this.affiliationOf(viewerJid);
      return a === 'owner' || a === 'admin';
    }
    return false;
  }

  occupantJid(nick: string): string {
    return `${this.jid}/${nick}`;
  }

  selfCodes(extra: readonly number[] = []): number[] {
    const codes = [110, ...extra];
    if (this.nonAnonymous) codes.push(100);
    if (this.config.archive) codes.push(170);
    return codes;
  }

  // ------------------------------------------------------------------ sending

  send(stanza: Element): void {
    this.ctx.send(stanza);
  }

  /** Every session of every occupant (the room's broadcast list). */
  allRecipients(): { to: string; occ: Occupant }[] {
    if (!this.recipients) {
      const list: { to: string; occ: Occupant }[] = [];
      for (const occ of this.occupants.values()) for (const s of occ.sessions.keys()) list.push({ to: s, occ });
      this.recipients = list;
    }
    return this.recipients;
  }

  membershipChanged(): void {
    this.recipients = undefined;
  }

  /** An error reply to a stanza sent to the room. */
  reject(ev: StanzaEvent, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): void {
    if (ev.stanza.attrs.type === 'error') return;
    this.send(roomError(ev.stanza, type, condition, text, this.jid));
  }

  /** The presence of `occ` as one kind of recipient sees it. */
  presenceOf(occ: Occupant, variant: Variant, o: { type?: string; codes?: readonly number[]; item?: Partial<ItemInfo>; extra?: Element; base?: Element } = {}): Element {
    const base = o.base ?? occ.primarySession.presence;
    const p = new Element('presence', { from: this.occupantJid(occ.nick), type: o.type });
    for (const c of base.children) p.children.push(c);
    const item: ItemInfo = {
      affiliation: this.occupantAffiliation(occ),
      role: o.type === 'unavailable' ? 'none' : occ.role,
      ...(variant !== 'plain' ? { jid: occ.primary } : {}),
      ...o.item,
    };
    if (variant === 'plain') delete item.jid;
    const codes = variant === 'self' ? [...(o.codes ?? []), 110] : (o.codes ?? []);
    p.append(mucUserX(item, codes, o.extra));
    p.append(occupantIdEl(occ.occupantId));
    return p;
  }

  /** The occupant's current presence for others, serialized once per variant (join lists, broadcasts). */
  currentPresence(occ: Occupant, variant: 'plain' | 'jid'): Fanout {
    const base = occ.primarySession.presence;
    const key = `${occ.nick}\u0000${occ.role}\u0000${this.occupantAffiliation(occ)}\u0000${occ.primary}`;
    let c = occ.presenceCache;
    if (!c || c.key !== key || c.base !== base) occ.presenceCache = c = { key, base };
    return (c[variant] ??= new Fanout(this.presenceOf(occ, variant)));
  }

  /** Whether presence of an occupant with this role is broadcast (muc#roomconfig_presencebroadcast). */
  broadcastsRole(role: Role): boolean {
    return role === 'none' || this.config.presenceBroadcast.includes(role);
  }

  /** Sends what the room decided, in order, after anything still waiting (Outbox). */
  emit(out: Element[]): void {
    if (out.length === 0) return;
    this.outbox.run(() => {
      for (const el of out) this.send(el);
    });
  }

  /**
   * `occ`'s presence for everyone, built now (sent in order through the outbox): its own
   * sessions get the self variant (110 and `selfCodes`), others the plain or with-JID variant.
   * `roleForFilter`: the role whose presence-broadcast setting applies (the role before leaving
   * for an unavailable).
   */
  presenceToAll(
    occ: Occupant,
    o: { type?: string; codes?: readonly number[]; selfCodes?: readonly number[]; item?: Partial<ItemInfo>; selfItem?: Partial<ItemInfo>; extra?: Element; base?: Element; roleForFilter?: Role; selfTo?: string[] } = {},
  ): Element[] {
    const out: Element[] = [];
    const shown = this.broadcastsRole(o.roleForFilter ?? occ.role);
    // Plain available presence (no codes, item changes or extras) comes from the cache.
    const current = o.type === undefined && o.codes === undefined && o.item === undefined && o.extra === undefined && o.base === undefined;
    let plain: Fanout | undefined;
    let withJid: Fanout | undefined;
    for (const r of this.allRecipients()) {
      if (r.occ === occ) continue;
      if (!shown && r.occ.role !== 'moderator') continue;
      if (this.seesJids(r.occ)) {
        withJid ??= current ? this.currentPresence(occ, 'jid') : new Fanout(this.presenceOf(occ, 'jid', o));
        out.push(withJid.to(r.to));
      } else {
        plain ??= current ? this.currentPresence(occ, 'plain') : new Fanout(this.presenceOf(occ, 'plain', o));
        out.push(plain.to(r.to));
      }
    }
    const selfTargets = o.selfTo ?? [...occ.sessions.keys()];
    const selfOpts = { ...o, codes: [...(o.codes ?? []), ...(o.selfCodes ?? [])] };
    if (selfTargets.length === 1) {
      // Each device sees its own real JID in its self-presence.
      const p = this.presenceOf(occ, 'self', { ...selfOpts, item: { jid: selfTargets[0]!, ...o.item, ...o.selfItem } });
      p.attrs.to = selfTargets[0]!;
      out.push(p);
    } else {
      for (const t of selfTargets) {
        const p = this.presenceOf(occ, 'self', { ...selfOpts, item: { jid: t, ...o.item, ...o.selfItem } });
        p.attrs.to = t;
        out.push(p);
      }
    }
    return out;
  }

  broadcastPresence(occ: Occupant, o: Parameters<Room['presenceToAll']>[1] = {}): void {
    this.emit(this.presenceToAll(occ, o));
  }

  /** The subject message (§7.2.15: the last thing a newcomer gets; empty when none is set). */
  subjectMessage(to: string): Element {
    const s = this.subject;
    const m = xml('message', { type: 'groupchat', from: s && s.nick ? this.occupantJid(s.nick) : this.jid, to, id: `subject-${this.created.toString(36)}` });
    m.c('subject').t(s?.text ?? '');
    return m;
  }

  // ------------------------------------------------------------------ presence in

  handlePresence(ev: StanzaEvent): void {
    const { stanza, from, to } = ev;
    const type = stanza.attrs.type;
    const occ = this.bySession.get(from.full);
    if (type === 'error') {
      // §17.2: presence errors from an occupant mean it is not reachable any more.
      if (occ) this.removeSession(occ, from.full, [333]);
      return;
    }
    if (type === 'unavailable') {
      if (occ) this.leave(occ, from.full, stanza);
      return;
    }
    // Subscriptions and probes have no meaning for a room (§17.2.1).
    if (type !== undefined) return;
    const nick = to.resource;
    if (nick === undefined) return this.reject(ev, 'modify', 'jid-malformed', 'enter a room as room@service/nickname');
    if (!occ) return this.join(ev, nick);
    if (occ.nick !== nick) return this.changeNick(ev, occ, nick);
    this.updatePresence(ev, occ);
  }

  /** Reserved nick of another user (§9.3: a nick given with the membership)? */
  private reservedByOther(nick: string, bare: string): boolean {
    for (const [j, e] of this.affiliations) if (e.nick === nick && j !== bare) return true;
    return false;
  }

  private nickPolicy(ev: StanzaEvent, nick: string): boolean {
    if (nick.trim() === '') {
      this.reject(ev, 'modify', 'not-acceptable', 'a nickname cannot be only spaces');
      return false;
    }
    return true;
  }

  /** Entering (§7.2): the checks in Prosody's order, then presence, history, subject. */
  join(ev: StanzaEvent, nick: string, o: { created?: boolean } = {}): void {
    const { stanza, from } = ev;
    const x = stanza.getChild('x', NS_MUC);
    if (!this.nickPolicy(ev, nick)) return;
    let history: HistoryRequest;
    try {
      history = parseHistoryRequest(x?.getChild('history'));
    } catch (e) {
      return this.reject(ev, 'modify', 'bad-request', e instanceof HistoryRequestError ? e.message : 'bad history request');
    }
    const aff = this.affiliationOf(from);
    const rank = AFFILIATION_RANK[aff];
    if (this.locked && aff !== 'owner') return this.reject(ev, 'cancel', 'item-not-found', 'this room is being set up by its owner and cannot be entered yet');
    if (aff === 'outcast') return this.reject(ev, 'auth', 'forbidden', 'you are banned from this room');
    if (this.config.membersOnly && rank < AFFILIATION_RANK.member) return this.reject(ev, 'auth', 'registration-required', 'this room is for members only');
    if (this.config.password !== '' && rank < AFFILIATION_RANK.admin) {
      const given = x?.getChildText('password');
      if (given !== this.config.password) return this.reject(ev, 'auth', 'not-authorized', given === undefined ? 'this room needs a password' : 'wrong password');
    }
    const existing = this.occupants.get(nick);
    if (existing && existing.bare !== from.bare) return this.reject(ev, 'cancel', 'conflict', 'that nickname is already used in this room');
    if (!existing && this.reservedByOther(nick, from.bare)) return this.reject(ev, 'cancel', 'conflict', 'that nickname is reserved by a member of this room');
    const limit = Math.min(this.config.maxUsers, this.ctx.settings().maxOccupants);
    if (!existing && this.occupants.size >= limit && rank < AFFILIATION_RANK.admin) return this.reject(ev, 'wait', 'service-unavailable', `this room is full (${limit} people)`);

    const session: OccupantSession = { jid: from, presence: sanitizePresence(stanza) };
    const rawTo = stanza.attrs.to ?? '';
    const modified = rawTo.slice(rawTo.indexOf('/') + 1) !== nick;
    const extra: number[] = [];
    if (o.created) extra.push(201);
    if (modified) extra.push(210);
    if (existing) {
      // Another device of the same user under the same nick: one occupant, one more session.
      existing.sessions.set(from.full, session);
      this.bySession.set(from.full, existing);
      this.membershipChanged();
      this.ctx.sessionJoined(from.full, this.jid);
      this.emit(this.welcome(existing, from, history, extra));
      return;
    }
    const role = defaultRole(aff, this.config.moderated);
    const occ = new Occupant(nick, from.bare, role, occupantId(this.ctx.secret, this.jid, from.bare), session);
    this.occupants.set(nick, occ);
    this.bySession.set(from.full, occ);
    this.membershipChanged();
    this.ctx.sessionJoined(from.full, this.jid);
    // §7.2.3 order: others' presence to the newcomer, the newcomer's to the others, then its own.
    this.emit([...this.occupantList(occ, from), ...this.presenceToAll(occ, { selfTo: [] }), ...this.welcome(occ, from, history, extra, false)]);
  }

  /** Presence of everyone else, as `viewer` may see it, for one session. */
  private occupantList(viewer: Occupant, to: Jid): Element[] {
    const out: Element[] = [];
    const withJid = this.seesJids(viewer);
    for (const other of this.occupants.values()) {
      if (other === viewer) continue;
      if (!this.broadcastsRole(other.role) && viewer.role !== 'moderator') continue;
      out.push(this.currentPresence(other, withJid ? 'jid' : 'plain').to(to.full));
    }
    return out;
  }

  /** What one newly entered session gets: (the list,) its own presence, history, subject. */
  private welcome(occ: Occupant, to: Jid, history: HistoryRequest, extra: number[], list = true): Element[] {
    const out = list ? this.occupantList(occ, to) : [];
    const self = this.presenceOf(occ, 'self', { codes: this.selfCodes(extra).filter((c) => c !== 110), item: { jid: to.full } });
    self.attrs.to = to.full;
    out.push(self, ...this.history.select(history, this.jid, to.full), this.subjectMessage(to.full));
    return out;
  }

  private updatePresence(ev: StanzaEvent, occ: Occupant): void {
    const { stanza, from } = ev;
    const session = occ.sessions.get(from.full)!;
    session.presence = sanitizePresence(stanza);
    occ.primary = from.full;
    const x = stanza.getChild('x', NS_MUC);
    if (x) {
      // A joined client sending the join again has lost track (XEP-0410 resync): it gets the
      // whole welcome again.
      let history: HistoryRequest = {};
      try {
        history = parseHistoryRequest(x.getChild('history'));
      } catch (e) {
        return this.reject(ev, 'modify', 'bad-request', e instanceof HistoryRequestError ? e.message : 'bad history request');
      }
      this.emit([...this.presenceToAll(occ, { selfTo: [] }), ...this.welcome(occ, from, history, [])]);
      return;
    }
    this.broadcastPresence(occ, { selfCodes: this.selfCodes().filter((c) => c !== 110) });
  }

  /** §7.6: unavailable with 303 and the new nick, then available under the new nick. */
  private changeNick(ev: StanzaEvent, occ: Occupant, nick: string): void {
    const { stanza, from } = ev;
    if (!this.nickPolicy(ev, nick)) return;
    const taken = this.occupants.get(nick);
    if (taken) return this.reject(ev, 'cancel', 'conflict', 'that nickname is already used in this room');
    if (this.reservedByOther(nick, occ.bare)) return this.reject(ev, 'cancel', 'conflict', 'that nickname is reserved by a member of this room');
    const rawTo = stanza.attrs.to ?? '';
    const modified = rawTo.slice(rawTo.indexOf('/') + 1) !== nick;
    const oldPresence = occ.primarySession.presence;
    const session = occ.sessions.get(from.full)!;
    session.presence = sanitizePresence(stanza);
    occ.primary = from.full;
    this.broadcastPresence(occ, { type: 'unavailable', codes: [303], item: { nick }, base: oldPresence });
    this.occupants.delete(occ.nick);
    occ.nick = nick;
    this.occupants.set(nick, occ);
    this.membershipChanged();
    this.broadcastPresence(occ, { selfCodes: modified ? [210] : [] });
  }

  /** One session leaves (§7.14); the occupant goes when its last session does. */
  leave(occ: Occupant, full: string, stanza?: Element): void {
    const base = stanza ? sanitizePresence(stanza) : new Element('presence');
    const role = occ.role;
    const wasPrimary = occ.primary === full;
    const last = occ.removeSession(full);
    this.bySession.delete(full);
    if (last) this.occupants.delete(occ.nick);
    this.membershipChanged();
    this.ctx.sessionLeft(full, this.jid);
    if (!last) {
      const p = this.presenceOf(occ, 'self', { type: 'unavailable', base, item: { jid: full } });
      p.attrs.to = full;
      // The others see the device that is still there.
      this.emit([p, ...(wasPrimary ? this.presenceToAll(occ, { selfTo: [] }) : [])]);
      return;
    }
    this.broadcastPresence(occ, { type: 'unavailable', base, roleForFilter: role, selfTo: [full], selfItem: { jid: full } });
    if (this.occupants.size === 0) this.ctx.emptied(this.jid);
  }

  /** Removes one session as if it had left, with status codes (333: it was unreachable). */
  removeSession(occ: Occupant, full: string, codes: number[]): void {
    if (occ.sessions.size > 1) return this.leave(occ, full);
    this.removeOccupant(occ, codes);
  }

  /**
   * Removes an occupant with all its sessions (kick 307, ban 301, affiliation 321, members-only
   * 322, shutdown 332, error 333, destroy): unavailable to everyone, `actor`/`reason` as given.
   */
  removeOccupant(occ: Occupant, codes: number[], o: { actorNick?: string; reason?: string; extra?: Element; affiliation?: Affiliation } = {}): void {
    const role = occ.role;
    const targets = [...occ.sessions.keys()];
    const item: Partial<ItemInfo> = { role: 'none' };
    if (o.affiliation) item.affiliation = o.affiliation;
    if (o.actorNick !== undefined) item.actorNick = o.actorNick;
    if (o.reason !== undefined) item.reason = o.reason;
    const base = new Element('presence');
    for (const t of targets) {
      this.bySession.delete(t);
      this.ctx.sessionLeft(t, this.jid);
    }
    this.occupants.delete(occ.nick);
    this.membershipChanged();
    // Built after removal: the others' list no longer has it, and it hears about itself.
    const o2 = { type: 'unavailable', codes, item, base, roleForFilter: role, selfTo: targets, ...(o.extra ? { extra: o.extra } : {}) };
    this.broadcastPresence(occ, o2);
    if (this.occupants.size === 0) this.ctx.emptied(this.jid);
  }

  /** Occupants of a bare JID (a user may be in the room under several nicks). */
  occupantsOf(bare: string): Occupant[] {
    const out: Occupant[] = [];
    for (const o of this.occupants.values()) if (o.bare === bare || (!bare.includes('@') && o.bare.endsWith('@' + bare))) out.push(o);
    return out;
  }

  /** Sends a room notice (status codes from the room's bare JID) to every session. */
  notice(el: Element): void {
    const f = new Fanout(el);
    this.emit(this.allRecipients().map((r) => f.to(r.to)));
  }
}
