// XEP-0357: Push Notifications
// https://xmpp.org/extensions/xep-0357.html — Version 0.4.1 (2020-02-11)
//
// §5 enable / disable (iq to the own bare JID, urn:xmpp:push:0) register an app server JID, a
// node and optional publish-options (the app server's secret...). §6: when a message worth
// waking the phone for arrives while none of the account's sessions can take it — every session
// is hibernated by stream management, or there is none (the message goes to offline storage) —
// the server publishes an urn:xmpp:push:summary notification to each registered app server:
// message-count (since the user was last connected), last-message-sender (bare JID), and the
// body only when configured (it would leave the server for the app maker's service). Room
// messages come through `muc/push-candidate` from the MUC module: only mentions push (no
// convention exists for opting in to every room message). §6.1: an error answer disables the
// registration; transient ones (type wait, the app server's server unreachable, no answer) do so
// after maxTransientErrors in a row. A notification sent while the previous one to the same
// registration is still unanswered is merged into the next (the count says how many).
// App servers outside this server are reached over s2s: the registration is refused unless
// federation is on or the domain is one of federation.pushGateways (core/remote-policy.ts).
//
// Hooks consumed: message/offline/handle (observed at priority 10, never handled; a message
// stamped with this server's <delay/> is one a hibernated session never acknowledged, already
// pushed for when it was queued), sm-hibernated (its unacknowledged messages push at once, as
// one counted notification), sm-resumed, sm-stanza-queued (stream management),
// muc/push-candidate, session-bound, session-closed, message/bare (§7 remote disabling by the
// app server), account-deleted.
//
// Settings (modules.push):
//   includeBody        false   send last-message-body (the message text) to the app server
//   includeSender      true    send last-message-sender
//   bodyLength         256     at most this many characters of the body
//   maxRegistrations   10      per account; beyond, the oldest registration goes
//   maxOptionsSize     4096    bytes of publish-options kept per registration
//   timeoutMs          30000   how long an app server may take to answer
//   maxTransientErrors 5       transient errors in a row before a registration is disabled
import { z } from 'zod';
import { defineModule, type StanzaEvent } from '../../core/module.js';
import { tryParseJid } from '../../core/jid.js';
import { isAllowedRemote, isLocalDomain } from '../../core/remote-policy.js';
import type { Session } from '../../core/session.js';
import { NS_STANZAS } from '../../core/stanza-error.js';
import type { Element } from '../../xml/element.js';
import { NS_PUBSUB, NS_PUBSUB_PUBLISH_OPTIONS } from '../../xmpp/xep0060.js';
import { NS_PUSH, type PushRegistration, type PushSummary } from '../../xmpp/xep0357.js';
import { NS_DATA, formType, parseForm } from '../dataforms.js';
import type { OfflineHandleEvent } from '../messages.js';
import { NS_DELAY } from '../offline.js';
import { PushRegistrations } from './registrations.js';
import { isPushWorthy, pushIq } from './summary.js';

export { isPushWorthy };

const optionsSchema = z
  .object({
    includeBody: z.boolean().default(false),
    includeSender: z.boolean().default(true),
    bodyLength: z.number().int().min(1).default(256),
    maxRegistrations: z.number().int().min(1).default(10),
    maxOptionsSize: z.number().int().min(64).default(4096),
    timeoutMs: z.number().int().min(100).default(30_000),
    maxTransientErrors: z.number().int().min(1).default(5),
  })
  .strict();

export type PushOptions = z.infer<typeof optionsSchema>;

/** Event of `muc/push-candidate` (fired by the MUC module for users whose sessions are all away). */
export interface MucPushCandidateEvent {
  room: string;
  occupantJid: string;
  userBare: string;
  stanza: Element;
  mention: boolean;
}

/** Event of `push-published` (fired after each answered publish, for tests and admin views). */
export interface PushPublishedEvent {
  owner: string;
  registration: PushRegistration;
  summary: PushSummary;
  result: 'ok' | 'disabled' | 'transient';
}

const TRANSIENT = new Set(['remote-server-timeout', 'remote-server-not-found', 'resource-constraint', 'internal-server-error', 'service-unavailable']);

export default defineModule({
  name: 'push',
  spec: 'XEP-0357: Push Notifications',
  load(api) {
    const parsed = optionsSchema.safeParse(api.options);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`modules.push.${i.path.join('.') || '?'}: ${i.message}`);
    }
    const opts = parsed.data;
    const regs = new PushRegistrations(api);
    const owner = (u: string) => `${u}@${api.host}`;
    api.disco.addAccountFeature(NS_PUSH);

    const hibernated = new WeakSet<Session>();
    /** Messages pushed since the user was last connected (the summary's message-count). */
    const counts = new Map<string, number>();
    /** Registration → the notification waiting for the one in flight to be answered. */
    const flights = new Map<string, { next?: PushSummary }>();
    /** The same message queued in several hibernated sessions pushes once. */
    const recent = new Map<string, number>();

    // A hibernated session (XEP-0198: connection gone, waiting to be resumed) says so itself
    // (Session.hibernating); the hooks below and session.data 'hibernated' (which the MUC
    // module reads) say it too.
    const asleep = (s: Session) =>
      (s as { hibernating?: boolean }).hibernating === true || hibernated.has(s) || s.data.get('hibernated') === true;
    const allAway = (username: string) => api.sessions.sessionsOf(username).every(asleep);

    const reachable = (domain: string) => isLocalDomain(api.config.hosts, domain) || isAllowedRemote(api.config.federation, domain);

    // ---- §5 enable / disable ----

    api.hook('iq-set/self/' + NS_PUSH, async (event: StanzaEvent) => {
      const username = event.from.local ?? event.origin.username;
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      const el = event.stanza.firstElement()!;
      const jid = tryParseJid(el.attrs.jid);
      if (!jid) return api.replyError(event, 'modify', 'jid-malformed', 'jid must be the app server address');
      if (el.name === 'disable') {
        await regs.remove(owner(username), jid.full, el.attrs.node);
        return api.replyResult(event);
      }
      if (el.name !== 'enable') return api.replyError(event, 'modify', 'bad-request', 'expected enable or disable');
      const node = el.attrs.node;
      if (node === undefined || node === '') return api.replyError(event, 'modify', 'bad-request', 'node is required');
      if (node.length > 1024) return api.replyError(event, 'modify', 'not-acceptable', 'node longer than 1024 characters');
      if (!reachable(jid.domain)) {
        return api.replyError(event, 'cancel', 'not-allowed', `${jid.domain} cannot be reached: federation is off and it is not in federation.pushGateways`);
      }
      const options: [string, string[]][] = [];
      const x = el.getChild('x', NS_DATA);
      if (x) {
        const form = parseForm(x);
        if (!form || (formType(form) !== undefined && formType(form) !== NS_PUBSUB_PUBLISH_OPTIONS)) {
          return api.replyError(event, 'modify', 'bad-request', `the form must be ${NS_PUBSUB_PUBLISH_OPTIONS}`);
        }
        for (const f of form.fields) if (f.var !== undefined && f.var !== 'FORM_TYPE') options.push([f.var, f.values]);
        if (Buffer.byteLength(JSON.stringify(options)) > opts.maxOptionsSize) {
          return api.replyError(event, 'modify', 'not-acceptable', `publish-options larger than ${opts.maxOptionsSize} bytes`);
        }
      }
      const reg: PushRegistration = { jid: jid.full, node, options, created: Date.now(), errors: 0 };
      if (event.from.resource !== undefined) reg.resource = event.from.resource;
      await regs.put(owner(username), reg, opts.maxRegistrations);
      api.log.info('push enabled', { user: owner(username), appServer: jid.full });
      return api.replyResult(event);
    });

    // ---- §6 publishing ----

    const publishOnce = async (o: string, reg: PushRegistration, summary: PushSummary): Promise<boolean> => {
      let result: PushPublishedEvent['result'];
      const domain = tryParseJid(reg.jid)?.domain ?? '';
      let answer: Element | undefined;
      if (reachable(domain)) {
        try {
          answer = await api.request(pushIq(o, reg, summary), opts.timeoutMs);
        } catch {
          answer = undefined;
        }
      }
      const error = answer?.attrs.type === 'error' ? answer.getChild('error') : undefined;
      if (answer && !error) {
        result = 'ok';
        if (reg.errors > 0) await regs.update(o, { ...reg, errors: 0 });
      } else {
        const condition = error?.elements().find((c) => c.attrs.xmlns === NS_STANZAS)?.name ?? 'remote-server-timeout';
        const transient = answer === undefined || error?.attrs.type === 'wait' || TRANSIENT.has(condition);
        if (!transient || reg.errors + 1 >= opts.maxTransientErrors) {
          result = 'disabled';
          await regs.remove(o, reg.jid, reg.node);
          api.log.info('push registration disabled', { user: o, appServer: reg.jid, condition });
        } else {
          result = 'transient';
          reg.errors += 1;
          await regs.update(o, { ...reg });
        }
      }
      await api.hooks.fireAsync<PushPublishedEvent>('push-published', { owner: o, registration: reg, summary, result });
      return result !== 'disabled';
    };

    const deliver = async (o: string, reg: PushRegistration, summary: PushSummary): Promise<void> => {
      const k = `${o} ${reg.jid} ${reg.node}`;
      const busy = flights.get(k);
      if (busy) {
        busy.next = summary;
        return;
      }
      const state: { next?: PushSummary } = {};
      flights.set(k, state);
      try {
        let s: PushSummary | undefined = summary;
        while (s) {
          if (!(await publishOnce(o, reg, s))) break;
          s = state.next;
          delete state.next;
        }
      } finally {
        flights.delete(k);
      }
    };

    const push = async (username: string, sender: string | undefined, body: string | undefined, messages = 1) => {
      const o = owner(username);
      const all = await regs.all(o);
      if (all.length === 0) return;
      const count = (counts.get(username) ?? 0) + messages;
      counts.set(username, count);
      const summary: PushSummary = { count };
      if (opts.includeSender && sender !== undefined) summary.sender = sender;
      if (opts.includeBody && body !== undefined) summary.body = [...body].slice(0, opts.bodyLength).join('');
      await Promise.all(all.map((r) => deliver(o, r, summary)));
    };

    /** False when this message was pushed for already (queued in several sessions). */
    const firstTime = (username: string, stanza: Element): boolean => {
      const id = stanza.attrs.id;
      if (id === undefined) return true;
      const key = `${username} ${stanza.attrs.from ?? ''} ${id}`;
      const now = Date.now();
      const seen = recent.get(key);
      recent.set(key, now);
      if (recent.size > 10_000) for (const [k, t] of recent) if (now - t > 60_000) recent.delete(k);
      return seen === undefined || now - seen >= 60_000;
    };

    const trigger = (username: string, stanza: Element, sender: string | undefined) => {
      if (!isPushWorthy(stanza) || !allAway(username) || !firstTime(username, stanza)) return;
      push(username, sender, stanza.getChildText('body')).catch((e) => api.log.warn('push failed', { error: String(e) }));
    };

    api.hook<OfflineHandleEvent>(
      'message/offline/handle',
      (event) => {
        // Stamped by this server: a message a hibernated session never acknowledged, handed to
        // offline storage when the hibernation ended. It was pushed for when it was queued.
        const again = event.stanza.getChildren('delay', NS_DELAY).some((d) => d.attrs.from === api.host);
        if (!again) trigger(event.username, event.stanza, event.from.bare);
        return false;
      },
      10,
    );

    api.hook<{ session: Session; stanza: Element }>('sm-stanza-queued', ({ session, stanza }) => {
      if (session.username === undefined || stanza.name !== 'message') return false;
      const from = tryParseJid(stanza.attrs.from);
      trigger(session.username, stanza, from?.bare);
      return false;
    });

    api.hook<MucPushCandidateEvent>('muc/push-candidate', (ev) => {
      const user = tryParseJid(ev.userBare);
      if (!user || user.domain !== api.host || user.local === undefined || !ev.mention) return false;
      if (!allAway(user.local)) return false;
      push(user.local, ev.occupantJid, ev.stanza.getChildText('body')).catch((e) => api.log.warn('push failed', { error: String(e) }));
      return false;
    });

    // The connection died with messages unacknowledged: if nobody else can read them now,
    // one notification says how many.
    api.hook<{ session: Session; queue?: Element[] }>('sm-hibernated', ({ session, queue }) => {
      hibernated.add(session);
      const username = session.username;
      if (username === undefined || !queue || !allAway(username)) return false;
      const worthy = queue.filter((m) => isPushWorthy(m) && firstTime(username, m));
      const last = worthy.at(-1);
      if (!last) return false;
      push(username, tryParseJid(last.attrs.from)?.bare, last.getChildText('body'), worthy.length).catch((e) => api.log.warn('push failed', { error: String(e) }));
      return false;
    });
    const back = ({ session }: { session: Session }) => {
      hibernated.delete(session);
      if (session.username !== undefined) counts.delete(session.username);
    };
    api.hook('sm-resumed', back);
    api.hook('session-bound', back);
    api.hook<{ session: Session }>('session-closed', ({ session }) => {
      hibernated.delete(session);
    });

    // §7: the app server withdraws the user's publish affiliation.
    api.hook(
      'message/bare',
      async (event: StanzaEvent) => {
        const ps = event.stanza.getChild('pubsub', NS_PUBSUB);
        const aff = ps?.getChild('affiliation');
        const username = event.to.local;
        if (!ps || !aff || username === undefined || aff.attrs.affiliation !== 'none') return false;
        const removed = await regs.remove(owner(username), event.from.full, ps.attrs.node);
        return removed > 0;
      },
      10,
    );

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      counts.delete(username);
      await regs.deleteOwner(owner(username));
    });
  },
});
