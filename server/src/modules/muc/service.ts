// XEP-0045: Multi-User Chat — the service at conference.<host>
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17): §6.1–6.3 (discovering the service and its rooms), §10.1 (creating
// a room by entering it: instant when the join has no <x/>, reserved (locked until configured)
// when it has one), §17.1 (addressing).
//
// Rooms live in memory; persistent ones are loaded at start and written as they change
// (persistence.ts). A temporary room is destroyed, with its archive, when its last occupant
// leaves; a reserved room its creator never configured is removed after lockedRoomTimeout.
import { jidFromParts, type Jid } from '../../core/jid.js';
import type { ModuleApi, StanzaEvent } from '../../core/module.js';
import type { Session } from '../../core/session.js';
import { errorReply, iqResult, mayReplyWithError } from '../../core/stanza-error.js';
import { xml, type Element } from '../../xml/element.js';
import { RoomArchive } from './archive.js';
import { defaultConfig, restoreConfig } from './config-form.js';
import type { MucSettings, RoomContext } from './context.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_SELF_PING, NS_MUC_STABLE_ID, NS_OCCUPANT_ID, NS_PING, NS_RSM } from './namespaces.js';
import { destroyRoom } from './owner.js';
import { RoomStore } from './persistence.js';
import { handleRoomIq } from './room-iq.js';
import { handleMessage } from './room-messages.js';
import { Room } from './room.js';
import { roomError } from './stanzas.js';

export const ROOM_DESTROYED_HOOK = 'muc/room-destroyed';

export interface RoomDestroyedEvent {
  room: string;
}

export class MucService {
  readonly rooms = new Map<string, Room>();
  /** Real full JID → rooms it is in (so a closed session leaves them all). */
  private readonly sessionRooms = new Map<string, Set<string>>();
  private readonly ctx: RoomContext;
  private stopping = false;
  /** Room removals in progress (shutdown waits for them). */
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    readonly api: ModuleApi,
    readonly domain: string,
    private readonly secret: Buffer,
  ) {
    const store = new RoomStore(api.keyval('muc_rooms'), api.keyval('muc_service'));
    const archive = new RoomArchive(api.archive('muc'));
    const svc = this;
    this.ctx = {
      api,
      domain,
      log: api.log,
      store,
      archive,
      secret,
      settings: () => svc.settings(),
      isServerAdmin: (jid: Jid) => api.isAdmin(jid),
      send: (stanza) => svc.send(stanza),
      result: (ev, payload) => {
        if (ev.stanza.attrs.type !== 'get' && ev.stanza.attrs.type !== 'set') return;
        svc.send(iqResult(ev.stanza, payload));
      },
      error: (ev, type, condition, text) => {
        if (!mayReplyWithError(ev.stanza)) return;
        svc.send(errorReply(ev.stanza, type, condition, text, ev.to.bare));
      },
      sessionJoined: (full, room) => {
        let set = svc.sessionRooms.get(full);
        if (!set) svc.sessionRooms.set(full, (set = new Set()));
        set.add(room);
      },
      sessionLeft: (full, room) => {
        const set = svc.sessionRooms.get(full);
        if (!set) return;
        set.delete(room);
        if (set.size === 0) svc.sessionRooms.delete(full);
      },
      emptied: (room) => svc.emptied(room),
      destroyed: (room) => svc.destroyed(room),
      get stopping() {
        return svc.stopping;
      },
    };
  }

  static async create(api: ModuleApi, domain: string): Promise<MucService> {
    const store = new RoomStore(api.keyval('muc_rooms'), api.keyval('muc_service'));
    const svc = new MucService(api, domain, await store.secret(domain));
    await svc.loadRooms();
    return svc;
  }

  /** Deliveries still in progress, by recipient (see send). */
  private readonly inflight = new Map<string, Promise<void>>();

  /**
   * Sends a stanza the service built, keeping stanzas to one recipient in order.
   *
   * Room presence and groupchat messages to a session bound on this host are handed to the
   * session directly: they are the fan-out (one per occupant per message), and the router's
   * inbound hooks have nothing to do with them (carbons and the user's archive skip groupchat;
   * stream management and CSI work inside the session). Everything else (private messages,
   * invitations, iqs, errors, remote recipients) is routed, so the user's modules see it; those
   * hooks may be async, and what follows to the same recipient waits until it is delivered
   * (XEP-0045 §7.2 gives the order of presence, history and subject on entering).
   */
  send(stanza: Element): void {
    const to = stanza.attrs.to ?? '';
    const prev = this.inflight.get(to);
    if (prev === undefined && (stanza.name === 'presence' || (stanza.name === 'message' && stanza.attrs.type === 'groupchat'))) {
      const session = this.localSession(to);
      if (session) {
        session.send(stanza);
        return;
      }
    }
    let p: Promise<void> | void;
    if (prev) p = prev.then(() => this.api.route(stanza));
    else p = this.api.route(stanza);
    if (!p) return;
    const mine = p;
    this.inflight.set(to, mine);
    mine.then(() => {
      if (this.inflight.get(to) === mine) this.inflight.delete(to);
    });
  }

  /** The bound c2s session of a full JID of this host (JIDs here are already prepared). */
  private localSession(full: string): Session | undefined {
    const at = full.indexOf('@');
    const slash = full.indexOf('/', at + 1);
    if (at <= 0 || slash < 0 || full.slice(at + 1, slash) !== this.api.host) return undefined;
    const s = this.api.sessions.get(full.slice(0, at), full.slice(slash + 1));
    return s && s.kind === 'c2s' ? s : undefined;
  }

  settings(): MucSettings {
    const m = this.api.config.muc;
    return {
      name: m.name,
      creators: m.creators,
      persistentByDefault: m.persistentByDefault,
      subjectChange: m.subjectChange,
      historyLength: m.historyLength,
      maxHistoryLength: m.maxHistoryLength,
      maxOccupants: m.maxOccupants,
      archiveRetentionDays: m.archiveRetentionDays,
      maxRooms: m.maxRooms,
      lockedRoomTimeout: m.lockedRoomTimeout,
      voiceRequestInterval: m.voiceRequestInterval,
      maxInvitesPerMessage: m.maxInvitesPerMessage,
      archivePageSize: m.archivePageSize,
      vcardMaxSize: m.vcardMaxSize,
    };
  }

  /** Persistent rooms back from storage, with their recent history from the archive. */
  private async loadRooms(): Promise<void> {
    for (const jid of await this.ctx.store.roomsOf(this.domain)) {
      try {
        const stored = await this.ctx.store.load(jid);
        if (!stored) continue;
        const local = jid.slice(0, jid.indexOf('@'));
        const config = restoreConfig(stored.config, defaultConfig(this.settings(), local));
        const room = new Room(this.ctx, jidFromParts(local, this.domain), {
          config,
          affiliations: stored.affiliations,
          created: stored.created,
          ...(stored.subject ? { subject: stored.subject } : {}),
          ...(stored.vcard ? { vcard: stored.vcard } : {}),
        });
        if (config.archive) room.history.fill(await this.ctx.archive.recent(jid, config.historyLength));
        this.rooms.set(jid, room);
      } catch (e) {
        this.api.log.error('loading a room failed', { room: jid, error: String(e) });
      }
    }
    if (this.rooms.size > 0) this.api.log.info('rooms loaded', { service: this.domain, rooms: this.rooms.size });
  }

  // ------------------------------------------------------------------ routing

  deliver(ev: StanzaEvent): void | Promise<void> {
    const { to, stanza } = ev;
    if (to.local === undefined) return this.serviceStanza(ev);
    const room = this.rooms.get(to.bare);
    if (room && !room.destroyed) {
      // A locked room does not exist for anyone but its owners (§10.1.3).
      if (room.locked && stanza.name !== 'presence' && room.affiliationOf(ev.from) !== 'owner') return this.noRoom(ev);
      if (stanza.name === 'presence') return room.handlePresence(ev);
      if (stanza.name === 'message') return handleMessage(room, ev);
      if (stanza.name === 'iq') return handleRoomIq(room, ev);
      return;
    }
    if (stanza.name === 'presence') {
      if (stanza.attrs.type === undefined && to.resource !== undefined) return this.createRoom(ev);
      if (stanza.attrs.type === undefined) this.send(roomError(stanza, 'modify', 'jid-malformed', 'enter a room as room@service/nickname', this.domain));
      return;
    }
    return this.noRoom(ev);
  }

  private noRoom(ev: StanzaEvent): void {
    const t = ev.stanza.attrs.type;
    if (t === 'error' || t === 'result') return;
    if (ev.stanza.name === 'presence') return;
    this.send(roomError(ev.stanza, 'cancel', 'item-not-found', 'there is no such room', ev.to.bare));
  }

  private createRoom(ev: StanzaEvent): void {
    const { stanza, from, to } = ev;
    const s = this.settings();
    const admin = this.api.isAdmin(from);
    const reject = (type: 'cancel' | 'wait', cond: 'not-allowed' | 'resource-constraint', text: string): void =>
      this.send(roomError(stanza, type, cond, text, to.bare));
    if (!admin && (s.creators === 'admins' || from.domain !== this.api.host))
      return reject('cancel', 'not-allowed', s.creators === 'admins' ? 'only server admins may create rooms here' : 'only users of this server may create rooms here');
    if (this.rooms.size >= s.maxRooms) return reject('wait', 'resource-constraint', `this service already holds its limit of ${s.maxRooms} rooms`);
    const locked = stanza.getChild('x', NS_MUC) !== undefined;
    const room = new Room(this.ctx, to.toBare(), {
      config: defaultConfig(s, to.local!),
      affiliations: new Map([[from.bare, { affiliation: 'owner' }]]),
      created: Date.now(),
      locked,
    });
    this.rooms.set(room.jid, room);
    room.join(ev, to.resource!, { created: true });
    if (room.occupants.size === 0) {
      // The join was refused (bad nick, bad history request): no room.
      this.rooms.delete(room.jid);
      return;
    }
    this.api.log.info('room created', { room: room.jid, by: from.bare, locked });
    if (locked) {
      room.lockTimer = setTimeout(() => {
        if (room.locked && !room.destroyed) destroyRoom(room, { reason: 'the room was not configured in time' }).catch(() => {});
      }, s.lockedRoomTimeout * 1000);
      room.lockTimer.unref();
    } else if (room.config.persistent) {
      this.ctx.store.saveAll(room.jid, { config: room.config, created: room.created, affiliations: room.affiliations }).catch((e) => this.api.log.error('saving a room failed', { room: room.jid, error: String(e) }));
    }
  }

  // ------------------------------------------------------------------ the service's own JID

  private serviceStanza(ev: StanzaEvent): void {
    const { stanza } = ev;
    const type = stanza.attrs.type;
    if (stanza.name === 'presence') {
      if (type === undefined && ev.to.resource !== undefined) this.send(roomError(stanza, 'modify', 'jid-malformed', 'enter a room as room@service/nickname', this.domain));
      return;
    }
    if (stanza.name === 'message') {
      if (type !== 'error' && type !== 'groupchat' && type !== 'headline') this.ctx.error(ev, 'cancel', 'service-unavailable', 'send messages to a room, not to the service');
      return;
    }
    if (type !== 'get' && type !== 'set') return;
    if (ev.to.resource !== undefined) return void this.ctx.error(ev, 'cancel', 'service-unavailable');
    const payload = stanza.firstElement();
    const ns = payload?.attrs.xmlns;
    if (type === 'get' && ns === NS_DISCO_INFO) {
      const node = payload!.attrs.node;
      if (node !== undefined && node !== '') return void this.ctx.error(ev, 'cancel', 'item-not-found');
      const q = xml('query', { xmlns: NS_DISCO_INFO });
      q.c('identity', { category: 'conference', type: 'text', name: this.settings().name });
      for (const f of [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_MUC, NS_MUC_STABLE_ID, NS_MUC_SELF_PING, NS_OCCUPANT_ID, NS_PING]) q.c('feature', { var: f });
      return void this.ctx.result(ev, q);
    }
    if (type === 'get' && ns === NS_DISCO_ITEMS) return this.listRooms(ev);
    if (type === 'get' && ns === NS_PING) return void this.ctx.result(ev);
    this.ctx.error(ev, 'cancel', 'service-unavailable');
  }

  /** §6.3: public rooms, with the number of occupants in the name as ejabberd shows it; RSM paging. */
  private listRooms(ev: StanzaEvent): void {
    const q = ev.stanza.getChild('query', NS_DISCO_ITEMS)!;
    if (q.attrs.node !== undefined && q.attrs.node !== '') return void this.ctx.error(ev, 'cancel', 'item-not-found');
    const listed = [...this.rooms.values()].filter((r) => r.config.public && !r.locked && !r.destroyed).sort((a, b) => (a.jid < b.jid ? -1 : a.jid > b.jid ? 1 : 0));
    const set = q.getChild('set', NS_RSM);
    let page = listed;
    if (set) {
      const after = set.getChildText('after');
      if (after) page = page.filter((r) => r.jid > after);
      const max = Number(set.getChildText('max') ?? 'NaN');
      if (Number.isInteger(max) && max >= 0) page = page.slice(0, max);
    }
    const reply = xml('query', { xmlns: NS_DISCO_ITEMS });
    for (const r of page) reply.c('item', { jid: r.jid, name: `${r.config.name || r.local} (${r.occupants.size})` });
    if (set) {
      const rs = reply.c('set', { xmlns: NS_RSM });
      if (page.length > 0) {
        rs.c('first', { index: String(listed.indexOf(page[0]!)) }).t(page[0]!.jid);
        rs.c('last').t(page[page.length - 1]!.jid);
      }
      rs.c('count').t(String(listed.length));
    }
    this.ctx.result(ev, reply);
  }

  // ------------------------------------------------------------------ lifecycle

  private emptied(jid: string): void {
    const room = this.rooms.get(jid);
    if (!room || room.destroyed || room.occupants.size > 0) return;
    if (room.config.persistent && !room.locked) return;
    const p = destroyRoom(room, {})
      .catch((e) => this.api.log.error('removing an empty room failed', { room: jid, error: String(e) }))
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private async destroyed(jid: string): Promise<void> {
    const room = this.rooms.get(jid);
    if (room?.lockTimer) clearTimeout(room.lockTimer);
    this.rooms.delete(jid);
    // Whatever the room kept goes with it: a new room of the same name starts empty.
    await room?.outbox.idle();
    await Promise.all([this.ctx.store.remove(jid), this.ctx.archive.deleteAll(jid)]);
    this.api.log.info('room destroyed', { room: jid });
    await this.api.hooks.fireAsync<RoomDestroyedEvent>(ROOM_DESTROYED_HOOK, { room: jid });
  }

  /** A session ended without leaving its rooms: it leaves them now. */
  sessionClosed(full: string): void {
    const rooms = this.sessionRooms.get(full);
    if (!rooms) return;
    for (const jid of [...rooms]) {
      const room = this.rooms.get(jid);
      const occ = room?.bySession.get(full);
      if (room && occ) room.leave(occ, full);
    }
    this.sessionRooms.delete(full);
  }

  /** A deleted account keeps no affiliation (a new account of that name must not inherit it). */
  async accountDeleted(bare: string): Promise<void> {
    for (const room of this.rooms.values()) {
      if (!room.affiliations.delete(bare)) continue;
      if (room.config.persistent) await this.ctx.store.saveAffiliations(room.jid, room.affiliations);
    }
  }

  /** Deletes archived messages older than each room's retention. */
  async purgeExpired(now = Date.now()): Promise<number> {
    let total = 0;
    const def = this.settings().archiveRetentionDays;
    for (const room of [...this.rooms.values()]) {
      const days = room.config.retentionDays ?? def;
      if (days <= 0) continue;
      total += await this.ctx.archive.purgeBefore(room.jid, now - days * 86_400_000);
    }
    return total;
  }

  /** Status 332 (§15.6): the service shuts down; everyone is told; temporary rooms go with their archives. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    for (const room of [...this.rooms.values()]) {
      if (room.lockTimer) clearTimeout(room.lockTimer);
      for (const occ of [...room.occupants.values()]) room.removeOccupant(occ, [332]);
    }
    await Promise.all([...this.rooms.values()].map((r) => r.outbox.idle()));
    await Promise.all([...this.pending]);
    // Delivered before the streams close (hooks on the way may be async).
    await Promise.all([...this.inflight.values()]);
  }
}

