// Persistent rooms on disk: keyval store 'muc_rooms', owner = room bare JID, one key per part so
// a change writes only that part:
//   config        RoomConfig (JSON) plus { created }
//   affiliations  { [bare JID]: { affiliation, nick?, reason? } }
//   subject       { text, nick, when }
//   vcard         the room's vCard as a stored element (XEP-0486 avatar)
// The service's own secret (occupant ids) is in keyval 'muc_service', owner = service domain.
import { randomBytes } from 'node:crypto';
import type { JsonValue, KeyValStore } from '../../storage/types.js';
import { elementFromJson, elementToJson } from '../../xmpp/stored.js';
import type { Element } from '../../xml/element.js';
import { isAffiliation, type AffiliationEntry, type RoomConfig, type Subject } from './types.js';

export interface StoredRoom {
  jid: string;
  config: unknown;
  created: number;
  affiliations: Map<string, AffiliationEntry>;
  subject?: Subject;
  vcard?: Element;
}

export class RoomStore {
  constructor(
    private readonly rooms: KeyValStore,
    private readonly service: KeyValStore,
  ) {}

  async secret(domain: string): Promise<Buffer> {
    const v = await this.service.get<string>(domain, 'secret');
    if (typeof v === 'string' && v.length >= 32) return Buffer.from(v, 'base64url');
    const s = randomBytes(32);
    await this.service.set(domain, 'secret', s.toString('base64url'));
    return s;
  }

  /** Bare JIDs of the stored rooms of one service. */
  async roomsOf(domain: string): Promise<string[]> {
    const owners = await this.rooms.owners();
    return owners.filter((o) => o.endsWith('@' + domain));
  }

  async load(jid: string): Promise<StoredRoom | undefined> {
    const all = await this.rooms.getAll(jid);
    const cfg = all.get('config');
    if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) return undefined;
    const { created, ...config } = cfg as Record<string, JsonValue>;
    const affiliations = new Map<string, AffiliationEntry>();
    const affs = all.get('affiliations');
    if (affs && typeof affs === 'object' && !Array.isArray(affs)) {
      for (const [j, e] of Object.entries(affs)) {
        if (!e || typeof e !== 'object' || Array.isArray(e)) continue;
        const a = e.affiliation;
        if (typeof a !== 'string' || !isAffiliation(a) || a === 'none') continue;
        const entry: AffiliationEntry = { affiliation: a };
        if (typeof e.nick === 'string') entry.nick = e.nick;
        if (typeof e.reason === 'string') entry.reason = e.reason;
        affiliations.set(j, entry);
      }
    }
    const room: StoredRoom = { jid, config, created: typeof created === 'number' ? created : Date.now(), affiliations };
    const subj = all.get('subject');
    if (subj && typeof subj === 'object' && !Array.isArray(subj) && typeof subj.text === 'string') {
      room.subject = { text: subj.text, nick: typeof subj.nick === 'string' ? subj.nick : '', when: typeof subj.when === 'number' ? subj.when : 0 };
    }
    const vcard = elementFromJson(all.get('vcard'));
    if (vcard) room.vcard = vcard;
    return room;
  }

  saveConfig(jid: string, config: RoomConfig, created: number): Promise<void> {
    return this.rooms.set(jid, 'config', { ...(config as unknown as Record<string, JsonValue>), created });
  }

  saveAffiliations(jid: string, affs: Map<string, AffiliationEntry>): Promise<void> {
    const o: Record<string, JsonValue> = {};
    for (const [j, e] of affs) o[j] = e as unknown as JsonValue;
    return this.rooms.set(jid, 'affiliations', o);
  }

  saveSubject(jid: string, s: Subject | undefined): Promise<void> {
    return this.rooms.set(jid, 'subject', s ? { text: s.text, nick: s.nick, when: s.when } : undefined);
  }

  saveVcard(jid: string, vcard: Element | undefined): Promise<void> {
    return this.rooms.set(jid, 'vcard', vcard ? elementToJson(vcard) : undefined);
  }

  /** Everything of a persistent room at once (it just became persistent). */
  async saveAll(jid: string, r: { config: RoomConfig; created: number; affiliations: Map<string, AffiliationEntry>; subject?: Subject; vcard?: Element }): Promise<void> {
    await Promise.all([this.saveConfig(jid, r.config, r.created), this.saveAffiliations(jid, r.affiliations), this.saveSubject(jid, r.subject), this.saveVcard(jid, r.vcard)]);
  }

  remove(jid: string): Promise<void> {
    return this.rooms.deleteOwner(jid);
  }
}
