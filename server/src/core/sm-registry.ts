// XEP-0198 §5 resumption ids of the whole server: which session a <resume previd='...'/> names.
// https://xmpp.org/extensions/xep-0198.html#resumption (version 1.6.3)
//
// A session is listed from <enable resume='true'/> until it really ends. When it ends, its id
// is remembered for a while with the last 'h' it reported, so a client that comes back too late
// gets <failed h='...'/> and knows which of its own stanzas the server had handled (§5: "the
// server SHOULD include the 'h' attribute"). Ids are 144 random bits; a client may only resume
// a session of its own account.
import { randomBytes } from 'node:crypto';
import type { Session } from './session.js';

/** What the registry needs from a resumable session. */
export interface ResumableSession extends Session {
  /** Ends the session for good (server shutdown): unacknowledged stanzas are dealt with. */
  end(reason: string): Promise<void>;
}

interface Gone {
  owner: string;
  h: number;
  until: number;
}

/** How many ended ids are remembered; oldest forgotten first. */
const MAX_GONE = 20_000;

export class ResumableSessions {
  private readonly live = new Map<string, { owner: string; session: ResumableSession }>();
  private readonly gone = new Map<string, Gone>();
  private readonly perOwner = new Map<string, number>();
  private readonly pending = new Set<Promise<unknown>>();

  /** A fresh resumption id, registered for `session` of account `owner` (a bare JID). */
  add(owner: string, session: ResumableSession): string {
    const id = randomBytes(18).toString('base64url');
    this.live.set(id, { owner, session });
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    return id;
  }

  /** The live session behind `id` when it belongs to `owner`. */
  get(id: string, owner: string): ResumableSession | undefined {
    const e = this.live.get(id);
    return e && e.owner === owner ? e.session : undefined;
  }

  /** An ended session's last 'h', while remembered. */
  lastH(id: string, owner: string, now = Date.now()): number | undefined {
    const g = this.gone.get(id);
    if (!g || g.owner !== owner) return undefined;
    if (g.until < now) {
      this.gone.delete(id);
      return undefined;
    }
    return g.h;
  }

  /** Takes `id` out; `h` and `keepMs` remember it as ended (for <failed h/>). */
  remove(id: string, h?: number, keepMs = 0): void {
    const e = this.live.get(id);
    if (!e) return;
    this.live.delete(id);
    const n = (this.perOwner.get(e.owner) ?? 1) - 1;
    if (n > 0) this.perOwner.set(e.owner, n);
    else this.perOwner.delete(e.owner);
    if (h === undefined || keepMs <= 0) return;
    if (this.gone.size >= MAX_GONE) this.gone.delete(this.gone.keys().next().value as string);
    this.gone.set(id, { owner: e.owner, h, until: Date.now() + keepMs });
  }

  /** Resumable sessions of one account (to cap them per account). */
  countFor(owner: string): number {
    return this.perOwner.get(owner) ?? 0;
  }

  get size(): number {
    return this.live.size;
  }

  /** Work still handing on the stanzas of ended sessions (offline storage writes). */
  track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /**
   * Graceful shutdown: every session still listed (hibernated ones included) ends now, and
   * the stanzas of every ended session are handed on before storage closes.
   */
  async endAll(reason: string): Promise<void> {
    const all = [...this.live.values()].map((e) => e.session);
    await Promise.all(all.map((s) => s.end(reason).catch(() => {})));
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
