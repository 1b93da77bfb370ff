// Sessions of one served host, indexed by account and resource.
//
// Binding a resource that is already bound replaces the old session (RFC 6120 §7.7.2.2, the
// "override" policy Prosody and ejabberd use by default): the newcomer is usually the same user
// reconnecting from a phone whose old TCP connection is not yet known to be dead.
import type { Session } from './session.js';

export interface SessionManager {
  /** All bound sessions of an account (empty when offline). */
  sessionsOf(username: string): Session[];
  /** One bound session by resource. */
  get(username: string, resource: string): Session | undefined;
  /** Sessions that sent available presence (priority order, highest first). */
  availableSessionsOf(username: string): Session[];
  /** Every bound session on this host. */
  all(): Iterable<Session>;
  count(): number;
}

export class HostSessions implements SessionManager {
  private readonly byUser = new Map<string, Map<string, Session>>();
  private total = 0;

  sessionsOf(username: string): Session[] {
    const m = this.byUser.get(username);
    return m ? [...m.values()] : [];
  }

  get(username: string, resource: string): Session | undefined {
    return this.byUser.get(username)?.get(resource);
  }

  availableSessionsOf(username: string): Session[] {
    return this.sessionsOf(username)
      .filter((s) => s.presence !== undefined)
      .sort((a, b) => b.priority - a.priority);
  }

  *all(): Iterable<Session> {
    for (const m of this.byUser.values()) yield* m.values();
  }

  count(): number {
    return this.total;
  }

  resourcesOf(username: string): number {
    return this.byUser.get(username)?.size ?? 0;
  }

  /** Registers a bound session; returns the session it displaced, if any (to be closed with conflict). */
  add(username: string, resource: string, session: Session): Session | undefined {
    let m = this.byUser.get(username);
    if (!m) this.byUser.set(username, (m = new Map()));
    const old = m.get(resource);
    m.set(resource, session);
    if (!old) this.total++;
    return old;
  }

  /** Removes the session if it is still the one bound to its resource. */
  remove(username: string, resource: string, session: Session): boolean {
    const m = this.byUser.get(username);
    if (!m || m.get(resource) !== session) return false;
    m.delete(resource);
    this.total--;
    if (m.size === 0) this.byUser.delete(username);
    return true;
  }
}
