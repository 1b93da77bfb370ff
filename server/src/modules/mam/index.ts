// XEP-0313: Message Archive Management
// https://xmpp.org/extensions/xep-0313.html
// Version 1.1.3 (2025-04-09), urn:xmpp:mam:2 and urn:xmpp:mam:2#extended
// XEP-0359: Unique and Stable Stanza IDs
// https://xmpp.org/extensions/xep-0359.html
// Version 0.7.0 (2023-08-23)
// XEP-0441: Message Archive Management Preferences (prefs.ts)
// XEP-0059: Result Set Management (paging)
//
// One archive per account (archive store 'mam', owner = bare JID). What is kept: archivable.ts.
// Incoming messages are archived when they arrive for the account (message/bare, message/full,
// before delivery and before offline storage, so messages that went offline are in the archive
// too, with the same id) and get <stanza-id by=account id=.../>; outgoing messages from the
// account's clients are archived in pre-message/out (the contact never sees that id; the sent
// carbon does). Forged stanza-ids claiming the account's archive are removed from every message
// in both directions (XEP-0359 §6). A resent message with the same origin-id (a client repeating
// what it is not sure got through) is archived once.
//
// Queries (query.ts): with, start, end, before-id, after-id, ids, full text (ejabberd's
// 'withtext' and '{urn:xmpp:fulltext:0}fulltext'), include-groupchat, RSM max/after/before,
// flip-page; iq-get <query/> returns the form, <metadata/> the first and last item, <prefs/>.
// RSM <first>/<last> are the page's oldest and newest ids whatever the delivery order. Results
// carry the stored text itself (raw-xml.ts) rather than a re-parsed copy.
// <count/> is sent when it is free (a complete page) or asked for with max=0; options.alwaysCount
// computes it for every page (a walk over every match: slow on large archives).
//
// Retention: config archive.retentionDays (0: forever); expired items of every account are
// deleted by the first host's instance every options.purgeInterval seconds (default 3600) and
// once at start.
//
// Options (modules.mam): maxPage (default 250), defaultPage (default 50), purgeInterval,
// alwaysCount (false), maxScan (10000: items read per query to match a full-JID 'with'),
// maxPrefsJids (1000), originIdMemory (10000: recent origin-ids remembered per host),
// maxPendingWrites (10000: archive writes in flight before senders wait for theirs),
// maxPendingBytes (16 MiB: the same bound on the text those writes carry).
import { randomBytes } from 'node:crypto';
import { newArchiveId } from '../../storage/validate.js';
import type { ArchiveItem } from '../../storage/types.js';
import { defineModule, type StanzaEvent } from '../../core/module.js';
import { Element, xml } from '../../xml/element.js';
import { formatDateTime } from '../../xmpp/xep0082.js';
import { forwarded, NS_DELAY, NS_FORWARD } from '../../xmpp/xep0297.js';
import { NS_MAM, NS_MAM_EXTENDED, NS_MAM_GROUPCHAT_FIELD, queryForm, type ArchivePolicy } from '../../xmpp/xep0313.js';
import { NS_SID, originId, stanzaIdElement, stripStanzaIds } from '../../xmpp/xep0359.js';
import { rsmResult } from '../../xmpp/xep0059.js';
import { parseStoredXml } from '../im/xml-parse.js';
import { bodyText, isArchivable } from './archivable.js';
import { createPrefsStore, parsePrefs, prefsElement, PrefsError } from './prefs.js';
import { parseQuery, QueryError, runQuery, type QueryLimits } from './query.js';
import { storedMessage } from './raw-xml.js';

export { NS_MAM, NS_MAM_EXTENDED };
export const MAM_STORE = 'mam';

/** <forwarded><delay/><message/></forwarded> around the stored text, when it has the usual shape. */
function forwardedRaw(stored: string, when: number): Element | undefined {
  const m = storedMessage(stored);
  if (!m) return undefined;
  return xml('forwarded', { xmlns: NS_FORWARD }, xml('delay', { xmlns: NS_DELAY, stamp: formatDateTime(when) }), m);
}

function intOption(v: unknown, def: number, min = 1): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min ? v : def;
}

export default defineModule({
  name: 'mam',
  spec: 'XEP-0313: Message Archive Management; XEP-0359: Unique and Stable Stanza IDs',
  load(api) {
    const cfg = api.config.archive;
    if (!cfg.enabled) return;
    const archive = api.archive(MAM_STORE);
    const prefs = createPrefsStore(api, cfg.defaultPolicy as ArchivePolicy);
    const limits: QueryLimits = {
      maxPage: intOption(api.options.maxPage, 250),
      defaultPage: intOption(api.options.defaultPage, 50),
      maxScan: intOption(api.options.maxScan, 10_000),
      alwaysCount: api.options.alwaysCount === true,
    };
    limits.defaultPage = Math.min(limits.defaultPage, limits.maxPage);
    const maxPrefsJids = intOption(api.options.maxPrefsJids, 1000);
    const originMemory = intOption(api.options.originIdMemory, 10_000, 0);
    const purgeEvery = intOption(api.options.purgeInterval, 3600) * 1000;
    const own = (u: string) => `${u}@${api.host}`;

    api.disco.addAccountFeature(NS_MAM);
    api.disco.addAccountFeature(NS_MAM_EXTENDED);
    api.disco.addAccountFeature(NS_MAM_GROUPCHAT_FIELD);
    api.disco.addAccountFeature(NS_SID);

    // origin-id → archive id of recent outgoing messages, insertion-ordered for eviction.
    const recentOrigins = new Map<string, string>();
    const remember = (key: string, id: string) => {
      if (originMemory === 0) return;
      recentOrigins.set(key, id);
      if (recentOrigins.size > originMemory) recentOrigins.delete(recentOrigins.keys().next().value!);
    };

    // ---- Archiving ----

    // The archive write is not awaited on the delivery path: the id is ours, so the stanza-id
    // goes out at once while the write joins the storage's group commit (one transaction and
    // one sync shared with everybody's writes). Awaiting it held each sender's next stanza behind an fsync, which
    // took delivery from ~46,000 to ~1,000 messages/s. Writes keep their order (the queue commits
    // in issue order); offline storage, which the sender relies on, still awaits its own write.
    // A query waits for its owner's writes still in flight, so it never misses a message the
    // client has already received.
    //
    // Backpressure: not waiting would let a sender that outruns the disk grow the write queue
    // without bound (a flood queued 130,000 rows, and the backlog then held every stream while it
    // drained). Past options.maxPendingWrites archive writes in flight, or options.maxPendingBytes
    // of their text, each hook waits for its own write, so the senders (whose stanzas are
    // processed in order) slow down to what the storage commits; below it, nobody waits.
    // The bound also sets how large a commit can grow under load, and a larger one costs less
    // per row (each commit rewrites every index page it touches and syncs once): with SQLite, a
    // flood was held to about 11,700 msg/s at 2,000 writes (batches of 2,000, ten commits a
    // second) and reached about 16,500 at 10,000 (bench/c2s.ts). 10,000 rows of 1 KiB are 10 MiB;
    // the byte bound keeps large stanzas (up to limits.stanzaSize each) from multiplying that.
    const maxPending = intOption(api.options.maxPendingWrites, 10_000);
    const maxPendingBytes = intOption(api.options.maxPendingBytes, 16 * 1024 * 1024);
    const inFlight = new Map<string, Promise<unknown>>();
    let pending = 0;
    let pendingBytes = 0;
    const store = (owner: string, item: ArchiveItem): Promise<unknown> | undefined => {
      const size = item.xml.length + (item.body?.length ?? 0);
      pending++;
      pendingBytes += size;
      // One .then for both outcomes: each write's promises and closures live until its commit
      // (tens of ms, longer under load), so every one of them is copied by the young-generation GC.
      const done = (e?: unknown) => {
        if (e !== undefined) api.log.error('archiving a message failed', { owner, error: String(e) });
        pending--;
        pendingBytes -= size;
        if (inFlight.get(owner) === p) inFlight.delete(owner);
      };
      const p: Promise<void> = archive.append(owner, item).then(() => done(), (e: unknown) => done(e ?? 'unknown error'));
      inFlight.set(owner, p);
      return pending > maxPending || pendingBytes > maxPendingBytes ? p : undefined;
    };
    const settled = (owner: string): Promise<unknown> | undefined => inFlight.get(owner);

    const inbound = async (event: StanzaEvent): Promise<boolean> => {
      const { stanza, from, to } = event;
      const username = to.local;
      if (username === undefined) return false;
      const owner = to.bare;
      stripStanzaIds(stanza, owner);
      if (!isArchivable(stanza)) return false;
      // An account that does not exist has no archive (the messages module bounces it).
      if (api.sessions.sessionsOf(username).length === 0 && !(await api.userExists(username))) return false;
      if (!(await prefs.allows(username, from))) return false;
      const id = newArchiveId();
      const wait = store(owner, { id, when: Date.now(), with: from.bare, body: bodyText(stanza), xml: stanza.toString() });
      stanza.append(stanzaIdElement(id, owner));
      if (wait) await wait;
      return false;
    };
    // After blocking (100) and before carbons (50) and delivery (-1).
    api.hook('message/bare', inbound, 60);
    api.hook('message/full', inbound, 60);

    api.hook('pre-message/out', async (event) => {
      const { stanza, origin, to } = event;
      const username = origin.username;
      if (username === undefined) return false;
      const owner = own(username);
      stripStanzaIds(stanza, owner);
      // A note to self is archived once, when it arrives.
      if (to.bare === owner || !isArchivable(stanza)) return false;
      const oid = originId(stanza);
      const key = oid === undefined ? undefined : `${owner}\n${to.bare}\n${oid}`;
      const seen = key === undefined ? undefined : recentOrigins.get(key);
      if (seen !== undefined) {
        event.outgoingArchiveId = { id: seen, by: owner };
        return false;
      }
      if (!(await prefs.allows(username, to))) return false;
      const id = newArchiveId();
      const wait = store(owner, { id, when: Date.now(), with: to.bare, body: bodyText(stanza), xml: stanza.toString() });
      event.outgoingArchiveId = { id, by: owner };
      if (key !== undefined) remember(key, id);
      if (wait) await wait;
      return false;
    }, 50);

    // ---- Queries ----

    const usernameOf = (event: StanzaEvent): string | undefined =>
      event.from.domain === api.host ? (event.from.local ?? event.origin.username) : undefined;

    const query = async (event: StanzaEvent, username: string, el: Element): Promise<true> => {
      let q;
      try {
        q = parseQuery(el);
      } catch (e) {
        if (e instanceof QueryError) return api.replyError(event, e.condition === 'item-not-found' ? 'cancel' : 'modify', e.condition, e.message);
        throw e;
      }
      const owner = own(username);
      await settled(owner);
      let page;
      try {
        page = await runQuery(archive, owner, q, limits);
      } catch (e) {
        if (e instanceof QueryError) return api.replyError(event, e.condition === 'item-not-found' ? 'cancel' : 'modify', e.condition, e.message);
        throw e;
      }
      const to = event.from.full;
      const order = q.flip ? [...page.items].reverse() : page.items;
      const idBase = 'mam-' + randomBytes(6).toString('hex') + '-';
      let n = 0;
      for (const item of order) {
        let fwd = forwardedRaw(item.xml, item.when);
        if (!fwd) {
          const stored = parseStoredXml(item.xml);
          if (!stored) {
            api.log.warn('unreadable archived message skipped', { owner, id: item.id });
            continue;
          }
          fwd = forwarded(stored, item.when);
        }
        event.origin.send(xml('message', { to, from: owner, id: idBase + n++ }, xml('result', { xmlns: NS_MAM, queryid: q.queryId, id: item.id }, fwd)));
      }
      const fin = xml('fin', { xmlns: NS_MAM, complete: page.complete ? 'true' : undefined });
      const first = page.items[0]?.id;
      const last = page.items[page.items.length - 1]?.id;
      fin.append(rsmResult({ ...(first !== undefined ? { first, last: last! } : {}), ...(page.count !== undefined ? { count: page.count } : {}) }));
      return api.replyResult(event, fin);
    };

    const metadata = async (event: StanzaEvent, username: string): Promise<true> => {
      const owner = own(username);
      await settled(owner);
      const [oldest, newest] = await Promise.all([archive.query(owner, { limit: 1 }), archive.query(owner, { limit: 1, reverse: true })]);
      const md = xml('metadata', { xmlns: NS_MAM });
      const a = oldest.items[0];
      const b = newest.items[0];
      if (a && b) {
        md.c('start', { id: a.id, timestamp: formatDateTime(a.when) });
        md.c('end', { id: b.id, timestamp: formatDateTime(b.when) });
      }
      return api.replyResult(event, md);
    };

    api.hook('iq-set/self/' + NS_MAM, async (event) => {
      const username = usernameOf(event);
      if (username === undefined) return api.replyError(event, 'cancel', 'forbidden');
      const el = event.stanza.firstElement()!;
      if (el.name === 'query') return query(event, username, el);
      if (el.name === 'prefs') {
        try {
          const p = parsePrefs(el, maxPrefsJids);
          await prefs.set(username, p);
          return api.replyResult(event, prefsElement(p));
        } catch (e) {
          if (e instanceof PrefsError) return api.replyError(event, e.condition === 'resource-constraint' ? 'wait' : 'modify', e.condition, e.message);
          throw e;
        }
      }
      return api.replyError(event, 'cancel', 'feature-not-implemented');
    });

    api.hook('iq-get/self/' + NS_MAM, async (event) => {
      const username = usernameOf(event);
      if (username === undefined) return api.replyError(event, 'cancel', 'forbidden');
      const el = event.stanza.firstElement()!;
      if (el.name === 'query') return api.replyResult(event, xml('query', { xmlns: NS_MAM }, queryForm()));
      if (el.name === 'metadata') return metadata(event, username);
      if (el.name === 'prefs') return api.replyResult(event, prefsElement(await prefs.get(username)));
      return api.replyError(event, 'cancel', 'feature-not-implemented');
    });

    // Another account's archive is theirs alone (§7.1).
    const forbidden = (event: StanzaEvent) => api.replyError(event, 'auth', 'forbidden');
    api.hook('iq-set/bare/' + NS_MAM, forbidden);
    api.hook('iq-get/bare/' + NS_MAM, forbidden);

    // ---- Retention ----

    const days = cfg.retentionDays;
    if (days > 0 && api.host === api.config.hosts[0]) {
      const purge = async () => {
        const n = await archive.purgeBefore(Date.now() - days * 86_400_000);
        if (n > 0) api.log.info('archive retention: expired messages deleted', { count: n, days });
      };
      api.every(purgeEvery, purge);
      api.hook('server-started', () => {
        purge().catch((e) => api.log.warn('archive retention purge failed', { error: String(e) }));
      });
    }

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await archive.delete(own(username));
      await prefs.forget(username);
    });
  },
});

