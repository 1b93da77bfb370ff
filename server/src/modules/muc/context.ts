// What a room needs from its service: settings, stores, routing and the service-wide indexes.
import type { Jid } from '../../core/jid.js';
import type { ModuleApi, StanzaEvent } from '../../core/module.js';
import type { StanzaErrorCondition, StanzaErrorType } from '../../core/stanza-error.js';
import type { Logger } from '../../util/log.js';
import type { Element } from '../../xml/element.js';
import type { RoomArchive } from './archive.js';
import type { ServiceDefaults } from './config-form.js';
import type { RoomStore } from './persistence.js';

export interface MucSettings extends ServiceDefaults {
  name: string;
  creators: 'all' | 'admins';
  maxRooms: number;
  lockedRoomTimeout: number;
  voiceRequestInterval: number;
  maxInvitesPerMessage: number;
  archivePageSize: number;
  vcardMaxSize: number;
}

export interface RoomContext {
  readonly api: ModuleApi;
  /** The service domain, e.g. conference.example.org. */
  readonly domain: string;
  readonly log: Logger;
  readonly store: RoomStore;
  readonly archive: RoomArchive;
  readonly secret: Buffer;
  settings(): MucSettings;
  isServerAdmin(jid: Jid): boolean;
  /** Routes a stanza the room built (its 'from' is a room or occupant JID), in order per recipient. */
  send(stanza: Element): void;
  /** The iq result to a request (sent in order after what the room already sent to the asker). */
  result(ev: StanzaEvent, payload?: Element): void;
  /** An error reply to a request, from the JID it was sent to. */
  error(ev: StanzaEvent, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): void;
  /** A session joined or left a room (the service closes rooms when sessions end). */
  sessionJoined(full: string, room: string): void;
  sessionLeft(full: string, room: string): void;
  /** The room has no occupants left; the service destroys it if it is temporary. */
  emptied(room: string): void;
  /** The room was destroyed (by its owner or because it was temporary and empty). */
  destroyed(room: string): Promise<void>;
  /** True while the server shuts down (leaving occupants change nothing stored). */
  readonly stopping: boolean;
}
