// Invitations on the daemon side:
//   XEP-0401: Easy User Onboarding (Ad-hoc Account Invitation Generation), v0.5.0,
//             https://xmpp.org/extensions/xep-0401.html (URIs and what redeeming does; the ad-hoc
//             commands are not offered: invitations come from `roost invite` and `roost setup`)
//   XEP-0445: Pre-Authenticated In-Band Registration, v0.2.0,
//             https://xmpp.org/extensions/xep-0445.html
//   XEP-0379: Pre-Authenticated Roster Subscription, v0.3.3,
//             https://xmpp.org/extensions/xep-0379.html
//
// What this module does, following Prosody's mod_invites / mod_invites_register:
// - imports <dataDir>/invites.json from `roost setup` at start (import-file.ts);
// - offers <register xmlns='urn:xmpp:ibr-token:0'/> to unauthenticated streams unless
//   registration.mode is closed;
// - answers <iq type='set'><preauth xmlns='urn:xmpp:pars:0' token='…'/></iq> before
//   authentication (hook iq-set/unauth/urn:xmpp:pars:0): a usable token is remembered for the
//   stream (session.ts) and lets the register module create one account, even in mode invite; an
//   unknown, expired, revoked or used-up token gets item-not-found (XEP-0445 §4);
// - after an invited registration (hook account-created with `invite`), the inviter and the new
//   account get a mutual subscription (subscribe.ts);
// - XEP-0379 for existing users: a subscription request to the inviter carrying
//   <preauth xmlns='urn:xmpp:pars:0' token='…'/> with a usable token is approved without asking
//   the inviter, and the inviter asks back; a bad token is ignored (§4.1: the request goes to the
//   inviter as usual).
//
// Registration mode closed turns account creation off, invitations included (as Prosody with
// allow_registration = false): the preauth iq then gets service-unavailable. Contact
// invitations between existing accounts work in every mode: they create nothing.
import { defineModule, type StanzaEvent } from '../../core/module.js';
import { errorReply, iqResult } from '../../core/stanza-error.js';
import { xml } from '../../xml/element.js';
import type { StreamFeaturesEvent } from '../disco.js';
import type { UnauthIqEvent } from '../register.js';
import { createRosterStore } from '../im/roster-store.js';
import { InvitesFileWatcher, invitesFilePath, type ImportResult } from './import-file.js';
import { NS_IBR_TOKEN, NS_PARS, setValidatedInvite } from './session.js';
import { INVITES_STORE, InviteStore, plausibleToken } from './store.js';
import { mutualSubscription, preApproveContact } from './subscribe.js';

/** `account-created` as the register module fires it after an invited registration. */
export interface AccountCreatedEvent {
  username: string;
  source?: string;
  invite?: { token: string; inviter?: string };
}

export default defineModule({
  name: 'invites',
  spec: 'XEP-0401, XEP-0445: Pre-Authenticated In-Band Registration, XEP-0379: Pre-Authenticated Roster Subscription',
  async load(api) {
    const store = new InviteStore(api.keyval(INVITES_STORE), api.host);
    const roster = createRosterStore(api);
    const mode = () => api.config.registration.mode;

    const logImport = (r: ImportResult | undefined, error?: Error) => {
      if (error) api.log.error('cannot read the invitations file', { path: watcher.path, error: error.message });
      if (!r) return;
      for (const p of r.problems) api.log.warn('invitation in the invitations file not imported', { path: watcher.path, problem: p });
      if (r.imported.length > 0) api.log.info('invitations imported', { path: watcher.path, imported: r.imported.length, known: r.known, expired: r.expired });
    };
    const watcher = new InvitesFileWatcher(store, invitesFilePath(api.config.dataDir), logImport);
    await watcher.run();

    // Used-up, revoked and expired records stay until they expire (import-file.ts says why).
    const purge = async () => {
      const n = await store.purge();
      if (n > 0) api.log.debug('expired invitations removed', { count: n });
    };
    await purge();
    api.every(3600_000, purge);

    api.hook<StreamFeaturesEvent>('stream-features', ({ session, features }) => {
      if (session.username === undefined && mode() !== 'closed' && !features.getChild('register', NS_IBR_TOKEN)) {
        features.c('register', { xmlns: NS_IBR_TOKEN });
      }
    });

    api.hook<UnauthIqEvent>('iq-set/unauth/' + NS_PARS, async ({ stanza, origin }) => {
      const reply = (el: ReturnType<typeof iqResult>) => {
        origin.send(el);
        return true;
      };
      if (mode() === 'closed') return reply(errorReply(stanza, 'cancel', 'service-unavailable', 'this server does not create accounts in-band'));
      const preauth = stanza.getChild('preauth', NS_PARS);
      const token = preauth?.attrs.token;
      if (!preauth || !token) return reply(errorReply(stanza, 'modify', 'bad-request', 'a preauth element with a token is required'));
      let check = await store.check(token, 'register');
      // A token from an installer run after the daemon started (it only reloads the daemon).
      if (!check.ok && check.problem === 'unknown' && plausibleToken(token)) {
        await watcher.refresh();
        check = await store.check(token, 'register');
      }
      if (!check.ok) {
        api.log.info('invitation token refused', { address: origin.address, problem: check.problem });
        return reply(errorReply(stanza, 'cancel', 'item-not-found', 'The provided token is invalid or expired'));
      }
      setValidatedInvite(origin, { token, ...(check.record.inviter ? { inviter: check.record.inviter } : {}) });
      return reply(iqResult(stanza));
    });

    // After an invited registration: the inviter and the new account become contacts.
    api.hook<AccountCreatedEvent>('account-created', async ({ username, invite }) => {
      const inviter = invite?.inviter;
      if (!inviter) return;
      const at = inviter.lastIndexOf('@');
      const inviterUser = inviter.slice(0, at);
      if (inviter.slice(at + 1) !== api.host || inviterUser === username) {
        api.log.warn('inviter is not a user of this domain; no contact added', { inviter, username });
        return;
      }
      if (!(await api.userExists(inviterUser))) {
        api.log.warn('inviter no longer exists; no contact added', { inviter, username });
        return;
      }
      await mutualSubscription(roster, api.host, inviterUser, username);
      api.log.info('invited account and inviter subscribed to each other', { inviter, username });
    });

    // XEP-0379 §3.5 on the inviter's server: before the presence module (-1) handles the request.
    api.hook(
      'presence/bare',
      async (event: StanzaEvent) => {
        const { stanza, from, to } = event;
        if (stanza.attrs.type !== 'subscribe' || to.local === undefined) return false;
        const token = stanza.getChild('preauth', NS_PARS)?.attrs.token;
        if (!token || !plausibleToken(token)) return false;
        const inviter = to.bare;
        const contact = from.bare;
        if (contact === inviter) return false;
        const check = await store.check(token, 'roster', inviter);
        if (!check.ok) {
          api.log.debug('subscription with an unusable invitation token: asking the user as usual', { inviter, contact, problem: check.problem });
          return false;
        }
        if (!(await api.userExists(to.local))) return false;
        // The use is taken first: two requests racing for a last use cannot both be approved.
        if (!(await store.reserve(token))) return false;
        const { alreadyFrom, askBack } = await preApproveContact(roster, to.local, contact);
        if (alreadyFrom) {
          // Nothing to approve: the token stays unused.
          await store.release(token);
          return false;
        }
        await store.recordUse(token, contact);
        api.log.info('subscription approved by invitation', { inviter, contact });
        if (askBack) {
          const r = api.route(xml('presence', { type: 'subscribe', from: inviter, to: contact }));
          if (r) await r;
        }
        return false; // the presence module turns the pre-approved request into a subscription
      },
      5,
    );
  },
});
