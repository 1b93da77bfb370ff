// XEP-0077: In-Band Registration
// https://xmpp.org/extensions/xep-0077.html
// Version 2.4 (2012-01-25)
// with XEP-0445 (Pre-Authenticated In-Band Registration, v0.2.0,
// https://xmpp.org/extensions/xep-0445.html) and XEP-0158 §5 (CAPTCHA Forms, v1.0.1,
// https://xmpp.org/extensions/xep-0158.html) for the registration modes.
//
// Account creation before authentication follows config registration.mode (read at each
// request, so a SIGHUP applies it):
//   closed  none (service-unavailable), invitations included (as Prosody without
//           allow_registration); accounts come from `roost user add` or the directory.
//   invite  only on a stream that showed a usable invitation token first (<preauth/>, handled
//           by modules/invites); others get not-allowed.
//   open    anyone who answers a CAPTCHA (modules/captcha: a picture of digits, XEP-0231 Bits of
//           Binary, or a text question as the accessible alternative). Clients that cannot show
//           a CAPTCHA form (XEP-0158) cannot register in this mode; a stream with an invitation
//           token skips the CAPTCHA.
// An invitation's use is taken just before the account is created and given back if that fails,
// so it counts only when the registration succeeds. limits.registrationsPerAddress (per hour)
// applies in every mode.
//
// What is always there for logged-in users: changing one's own password (§3.3) and, when
// modules.register.allowRemove is true (default: true unless the mode is closed), cancelling
// one's own account (§3.2).
//
// Options (config modules.register): allowRemove, allowPasswordChange (default true),
// questions (list of { question, answers: [..] } used instead of the built-in sums),
// captchaPerAddress (challenges waiting at once per network address, default 5),
// captchaPending (challenges waiting at once on the host, default 1000), captchaPerMinute (new
// challenges per network address and minute, default 10: each is a picture to draw, ~7 ms, see
// bench/captcha.ts). The time to answer is
// registration.captchaTimeout.
//
// Pre-authentication iqs reach this module through hooks the c2s stream fires for an
// unauthenticated session: `iq-get/unauth/jabber:iq:register`, `iq-set/unauth/jabber:iq:register`
// and `iq-get/unauth/urn:xmpp:bob` (the CAPTCHA picture, XEP-0231 §3.2) with an UnauthIqEvent.
// The `stream-features` hook adds <register xmlns='http://jabber.org/features/iq-register'/>
// before authentication unless the mode is closed (§8). Hooks fired: `captcha-issued`
// ({ challenge }), `account-created` ({ username, source: 'register', invite? }).
import { defineModule, type ModuleApi, type StanzaEvent } from '../core/module.js';
import type { Accounts } from '../core/accounts.js';
import { JidError, prepareLocalpart } from '../core/jid.js';
import * as accountsModule from '../core/accounts.js';
import type { Session } from '../core/session.js';
import { errorReply, iqResult, type StanzaErrorCondition, type StanzaErrorType } from '../core/stanza-error.js';
import type { ArchiveStore, KeyValStore, Storage } from '../storage/types.js';
import { Element, xml } from '../xml/element.js';
import { answered, bobData, CaptchaChallenges, captchaRegistrationForm, NS_BOB, NS_CAPTCHA, parseQuestions, type CaptchaIssuedEvent } from './captcha/challenges.js';
import { buildForm, formType, formValue, parseForm, type DataForm } from './dataforms.js';
import type { StreamFeaturesEvent } from './disco.js';
import { setValidatedInvite, validatedInvite } from './invites/session.js';
import { INVITES_STORE, InviteStore } from './invites/store.js';

export const NS_REGISTER = 'jabber:iq:register';
export const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';

/** What the c2s stream fires for an iq received before authentication. */
export interface UnauthIqEvent {
  stanza: Element;
  origin: Session;
}

/** Prepares a requested username; undefined when it cannot be a localpart. */
export function prepareUsername(raw: string): string | undefined {
  try {
    return prepareLocalpart(raw);
  } catch (e) {
    if (e instanceof JidError) return undefined;
    throw e;
  }
}

/**
 * The account store. The module API may carry `accounts` (preferred: the core's instance,
 * which also serves SASL); otherwise one is built over the module's own store access.
 */
function accountsFor(api: ModuleApi): Accounts {
  const given = (api as ModuleApi & { accounts?: Accounts }).accounts;
  if (given) return given;
  const storage: Storage = {
    kind: api.config.storage.type,
    open: async () => {},
    close: async () => {},
    keyval: (name: string): KeyValStore => api.keyval(name),
    archive: (name: string): ArchiveStore => api.archive(name),
  };
  return accountsModule.createAccounts(storage, api.host);
}

/** The submitted data form when it is a registration (or CAPTCHA registration) form. */
function registrationForm(query: Element): DataForm | undefined {
  const form = parseForm(query.getChild('x', 'jabber:x:data'));
  if (!form) return undefined;
  const t = formType(form);
  return t === undefined || t === NS_REGISTER || t === NS_CAPTCHA ? form : undefined;
}

/** Reads username/password from the legacy fields or, taking precedence (§6), a data form. */
function credentialsOf(query: Element, form: DataForm | undefined): { username?: string; password?: string } {
  if (form) return { username: formValue(form, 'username'), password: formValue(form, 'password') };
  return { username: query.getChildText('username'), password: query.getChildText('password') };
}

function positiveInt(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : def;
}

const INSTRUCTIONS = 'Choose a username and password for use with this service.';
const CAPTCHA_INSTRUCTIONS =
  'Choose a username and password, then type the digits in the picture or answer the question. Your chat app must show this form to create an account here.';

export default defineModule({
  name: 'register',
  spec: 'XEP-0077: In-Band Registration (with XEP-0445 invitations and XEP-0158 CAPTCHA)',
  load(api) {
    const mode = () => api.config.registration.mode;
    const opt = () => api.options;
    const allowRemove = () => (typeof opt().allowRemove === 'boolean' ? (opt().allowRemove as boolean) : mode() !== 'closed');
    const allowPasswordChange = () => opt().allowPasswordChange !== false;
    const accounts = accountsFor(api);
    const invites = new InviteStore(api.keyval(INVITES_STORE), api.host);

    const { problems } = parseQuestions(api.options.questions);
    for (const p of problems) api.log.warn('CAPTCHA question ignored', { problem: p });
    const challenges = new CaptchaChallenges(
      () => ({
        perAddress: positiveInt(opt().captchaPerAddress, 5),
        total: positiveInt(opt().captchaPending, 1000),
        perMinute: positiveInt(opt().captchaPerMinute, 10),
      }),
      () => api.config.registration.captchaTimeout * 1000,
      () => parseQuestions(opt().questions).questions,
    );
    // Challenges of streams that end unanswered stay until they expire: the core fires no hook
    // for the end of an unauthenticated stream. The caps above bound them.

    // Successful registrations per remote address in the last hour.
    const recent = new Map<string, number[]>();
    api.every(10 * 60_000, () => {
      const cutoff = Date.now() - 3600_000;
      for (const [addr, times] of recent) {
        const kept = times.filter((t) => t > cutoff);
        if (kept.length === 0) recent.delete(addr);
        else recent.set(addr, kept);
      }
    });

    // §7: the protocol is supported whenever a logged-in user can change their password (or
    // cancel), even with account creation closed; clients such as Gajim look for the feature.
    if (mode() !== 'closed' || allowPasswordChange() || allowRemove()) api.disco.addFeature(NS_REGISTER);

    api.hook<StreamFeaturesEvent>('stream-features', ({ session, features }) => {
      if (mode() !== 'closed' && session.username === undefined && !features.getChild('register', NS_REGISTER_FEATURE)) {
        features.c('register', { xmlns: NS_REGISTER_FEATURE });
      }
    });

    const sendError = (e: UnauthIqEvent, type: StanzaErrorType, cond: StanzaErrorCondition, text?: string) => {
      e.origin.send(errorReply(e.stanza, type, cond, text));
      return true;
    };
    const INVITE_ONLY = 'registration on this server is by invitation only: open your invitation link in your chat app';

    // --- before authentication: account creation (§3.1) ---
    api.hook<UnauthIqEvent>('iq-get/unauth/' + NS_REGISTER, (e) => {
      const m = mode();
      if (m === 'closed') return sendError(e, 'cancel', 'service-unavailable');
      const invited = validatedInvite(e.origin) !== undefined;
      if (m === 'invite' && !invited) return sendError(e, 'cancel', 'not-allowed', INVITE_ONLY);
      if (m === 'open' && !invited) {
        const c = challenges.issue(e.origin.id, e.origin.address);
        if (!c) {
          api.log.warn('CAPTCHA challenges limit reached', { address: e.origin.address });
          return sendError(e, 'wait', 'resource-constraint', 'too many registration attempts waiting; try again in a few minutes');
        }
        void api.hooks.fireAsync<CaptchaIssuedEvent>('captcha-issued', { challenge: c });
        e.origin.send(
          iqResult(
            e.stanza,
            xml('query', { xmlns: NS_REGISTER }, xml('instructions', {}, CAPTCHA_INSTRUCTIONS), captchaRegistrationForm(c, api.host, e.stanza.attrs.id, CAPTCHA_INSTRUCTIONS), bobData(c)),
          ),
        );
        return true;
      }
      const form = buildForm({
        type: 'form',
        title: 'Account registration',
        instructions: [INSTRUCTIONS],
        fields: [
          { var: 'FORM_TYPE', type: 'hidden', values: [NS_REGISTER] },
          { var: 'username', type: 'text-single', label: 'Username', required: true, values: [] },
          { var: 'password', type: 'text-private', label: 'Password', required: true, values: [] },
        ],
      });
      e.origin.send(
        iqResult(e.stanza, xml('query', { xmlns: NS_REGISTER }, xml('instructions', {}, INSTRUCTIONS), xml('username'), xml('password'), form)),
      );
      return true;
    });

    // XEP-0231 §3.2: a client that did not keep the picture asks for it by its cid.
    api.hook<UnauthIqEvent>('iq-get/unauth/' + NS_BOB, (e) => {
      const cid = e.stanza.getChild('data', NS_BOB)?.attrs.cid;
      const c = cid ? challenges.byCid(cid, e.origin.id) : undefined;
      if (!c) return sendError(e, 'cancel', 'item-not-found');
      e.origin.send(iqResult(e.stanza, bobData(c)));
      return true;
    });

    api.hook<UnauthIqEvent>('iq-set/unauth/' + NS_REGISTER, async (e) => {
      const m = mode();
      if (m === 'closed') return sendError(e, 'cancel', 'service-unavailable');
      const query = e.stanza.getChild('query', NS_REGISTER);
      if (!query) return sendError(e, 'modify', 'bad-request');
      if (query.getChild('remove')) return sendError(e, 'cancel', 'unexpected-request', 'not registered');
      const invite = validatedInvite(e.origin);
      if (m === 'invite' && !invite) return sendError(e, 'cancel', 'not-allowed', INVITE_ONLY);
      const form = registrationForm(query);
      const { username: rawUser, password } = credentialsOf(query, form);
      if (!rawUser || !password) return sendError(e, 'modify', 'not-acceptable', 'username and password are required');
      const username = prepareUsername(rawUser);
      if (username === undefined) return sendError(e, 'modify', 'jid-malformed', 'invalid username');
      const addr = e.origin.address;
      const now = Date.now();
      const times = (recent.get(addr) ?? []).filter((t) => t > now - 3600_000);
      if (times.length >= api.config.limits.registrationsPerAddress) {
        api.log.warn('registration rate limit hit', { address: addr });
        return sendError(e, 'wait', 'policy-violation', 'too many registrations from your address; try again later');
      }
      if (m === 'open' && !invite) {
        if (!form || formType(form) !== NS_CAPTCHA) {
          return sendError(e, 'modify', 'not-acceptable', 'this server asks new users to solve a CAPTCHA: fetch the registration form and fill it in (XEP-0158)');
        }
        // XEP-0158 §3.2.3: unknown, answered or timed-out challenge: service-unavailable.
        const c = challenges.take(formValue(form, 'challenge'), e.origin.id);
        if (!c) return sendError(e, 'cancel', 'service-unavailable', 'the CAPTCHA has expired or was already answered; fetch the registration form again');
        if (!answered(c, form)) {
          api.log.info('registration with a wrong CAPTCHA answer', { address: addr });
          return sendError(e, 'cancel', 'not-acceptable', 'wrong answer to the CAPTCHA; fetch the registration form again for a new one');
        }
      }
      if (await accounts.exists(username)) return sendError(e, 'cancel', 'conflict', 'username taken');
      // The invitation's use is taken now and given back if the account cannot be created.
      const record = invite ? await invites.reserve(invite.token) : undefined;
      if (invite && !record) {
        setValidatedInvite(e.origin, undefined);
        return sendError(e, 'cancel', 'not-allowed', 'this invitation has been used up or revoked');
      }
      try {
        await accounts.create(username, password);
      } catch (err) {
        if (invite) await invites.release(invite.token).catch(() => {});
        if (err instanceof Error && err.name === 'AccountExistsError') return sendError(e, 'cancel', 'conflict', 'username taken');
        if (await accounts.exists(username).catch(() => false)) return sendError(e, 'cancel', 'conflict', 'username taken');
        api.log.error('registration failed', { username, error: String(err) });
        return sendError(e, 'wait', 'internal-server-error');
      }
      times.push(now);
      recent.set(addr, times);
      const jid = `${username}@${api.host}`;
      if (invite) {
        await invites.recordUse(invite.token, jid).catch((err) => api.log.warn('could not record the invitation use', { error: String(err) }));
        // One account per shown token: another account needs another <preauth/>.
        setValidatedInvite(e.origin, undefined);
      }
      api.log.info('account registered in-band', { username, address: addr, invited: invite !== undefined });
      await api.hooks.fireAsync('account-created', {
        username,
        source: 'register',
        ...(invite ? { invite: { token: invite.token, ...(record?.inviter ? { inviter: record.inviter } : {}) } } : {}),
      });
      e.origin.send(iqResult(e.stanza));
      return true;
    });

    // --- after authentication: registration info, password change (§3.3), removal (§3.2) ---
    const info = (event: StanzaEvent) => {
      const username = event.from.local ?? event.origin.username;
      return api.replyResult(
        event,
        xml('query', { xmlns: NS_REGISTER }, xml('registered'), xml('username', {}, username), xml('password')),
      );
    };
    api.hook('iq-get/self/' + NS_REGISTER, info);
    api.hook('iq-get/host/' + NS_REGISTER, info);

    const change = async (event: StanzaEvent) => {
      const username = event.from.local ?? event.origin.username;
      if (username === undefined) return api.replyError(event, 'cancel', 'unexpected-request');
      const query = event.stanza.getChild('query', NS_REGISTER);
      if (!query) return api.replyError(event, 'modify', 'bad-request');

      if (query.getChild('remove')) {
        if (query.elements().length !== 1) return api.replyError(event, 'modify', 'bad-request');
        if (!allowRemove()) return api.replyError(event, 'cancel', 'not-allowed');
        await accounts.delete(username);
        api.log.info('account removed in-band', { username });
        api.replyResult(event);
        await api.hooks.fireAsync('account-deleted', { username });
        // §3.2: end every session of the removed account; after this turn so the result goes
        // out first.
        setImmediate(() => {
          for (const s of api.sessions.sessionsOf(username)) s.close('not-authorized', 'account removed');
        });
        return true;
      }

      const { username: given, password } = credentialsOf(query, registrationForm(query));
      if (!allowPasswordChange()) return api.replyError(event, 'cancel', 'not-allowed');
      if (given === undefined || prepareUsername(given) !== username) {
        return api.replyError(event, 'modify', 'bad-request', 'username must be your own');
      }
      // §3.3: an empty password never replaces the existing one.
      if (!password) return api.replyError(event, 'modify', 'not-acceptable', 'empty password');
      await accounts.setPassword(username, password);
      api.log.info('password changed in-band', { username });
      await api.hooks.fireAsync('password-changed', { username, session: event.origin });
      return api.replyResult(event);
    };
    api.hook('iq-set/self/' + NS_REGISTER, change);
    api.hook('iq-set/host/' + NS_REGISTER, change);
  },
});
