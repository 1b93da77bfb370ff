// XEP-0045: Multi-User Chat — an occupant: one nickname in a room, with one or more sessions
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17), §7.2 (entering a room; the nickname-conflict rules there let
// several resources of one bare JID share a nick).
//
// One user may be in a room from several devices under one nick (the XEP allows it and Prosody
// does it): that is one occupant with several sessions. Room messages go to every
// session; the others see one presence, that of the session that spoke last ("primary").
import type { Jid } from '../../core/jid.js';
import type { Element } from '../../xml/element.js';
import type { Fanout } from './fanout.js';
import type { Role } from './types.js';

export interface OccupantSession {
  /** The real full JID of the device. */
  jid: Jid;
  /** Its last presence as sent to the room (muc extensions and addresses stripped). */
  presence: Element;
}

export class Occupant {
  readonly sessions = new Map<string, OccupantSession>();
  /** Full JID of the session whose presence the room shows. */
  primary: string;

  constructor(
    public nick: string,
    /** Real bare JID. */
    readonly bare: string,
    public role: Role,
    readonly occupantId: string,
    first: OccupantSession,
  ) {
    this.sessions.set(first.jid.full, first);
    this.primary = first.jid.full;
    this.last = first;
  }

  /**
   * This occupant's current available presence, serialized once per variant (plain, with JID)
   * and reused for every recipient until something it shows changes (`key`).
   */
  presenceCache: { key: string; base: Element; plain?: Fanout; jid?: Fanout } | undefined;

  /** The last session removed, so an occupant that has just left can still be described. */
  private last: OccupantSession;

  get primarySession(): OccupantSession {
    return this.sessions.get(this.primary) ?? this.sessions.values().next().value ?? this.last;
  }

  /** Removes a session; picks another primary if needed. True when none is left. */
  removeSession(full: string): boolean {
    const s = this.sessions.get(full);
    if (s) this.last = s;
    this.sessions.delete(full);
    if (this.primary === full) {
      const next = [...this.sessions.keys()].pop();
      if (next !== undefined) this.primary = next;
    }
    return this.sessions.size === 0;
  }
}
