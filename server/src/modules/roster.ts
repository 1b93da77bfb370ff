// RFC 6121: XMPP Instant Messaging and Presence — §2 Managing the Roster
// https://www.rfc-editor.org/rfc/rfc6121 (March 2011)
// XEP-0237: Roster Versioning
// https://xmpp.org/extensions/xep-0237.html (Version 1.3, 2019-03-06; the RFC 6121 §2.6 rules)
//
// Options (config modules.roster): maxItems (default 1000), maxNameLength (default 1023),
// maxGroupLength (default 1023).
// Store layout: see im/roster-store.ts. Removing an item cancels the subscriptions both ways
// (§2.5.2): the presence module does that through the `roster-remove` hook it registers.
import { defineModule, type StanzaEvent } from '../core/module.js';
import { tryParseJid } from '../core/jid.js';
import { xml } from '../xml/element.js';
import {
  blankItem,
  createRosterStore,
  itemElement,
  NS_PREAPPROVAL,
  NS_ROSTER,
  NS_ROSTERVER,
  type RosterItem,
} from './im/roster-store.js';
import type { StreamFeaturesEvent } from './disco.js';

/** The `roster-remove` hook's event: fired (inside the roster lock) before an item is deleted. */
export interface RosterRemoveEvent {
  username: string;
  item: RosterItem;
}

function numOption(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : def;
}

export default defineModule({
  name: 'roster',
  spec: 'RFC 6121 §2: Managing the Roster; XEP-0237: Roster Versioning',
  load(api) {
    const roster = createRosterStore(api);
    const maxItems = numOption(api.options.maxItems, 1000);
    const maxName = numOption(api.options.maxNameLength, 1023);
    const maxGroup = numOption(api.options.maxGroupLength, 1023);

    // Stream features after authentication (XEP-0237 §3, RFC 6121 §3.4.1).
    api.hook<StreamFeaturesEvent>('stream-features', ({ session, features }) => {
      if (session.username === undefined) return;
      if (!features.getChild('ver', NS_ROSTERVER)) features.c('ver', { xmlns: NS_ROSTERVER });
      if (!features.getChild('sub', NS_PREAPPROVAL)) features.c('sub', { xmlns: NS_PREAPPROVAL });
    });

    const usernameOf = (event: StanzaEvent): string | undefined => event.from.local ?? event.origin.username;

    api.hook('iq-get/self/' + NS_ROSTER, async (event) => {
      const username = usernameOf(event);
      if (username === undefined || event.from.domain !== api.host) return api.replyError(event, 'auth', 'forbidden');
      const query = event.stanza.getChild('query', NS_ROSTER)!;
      // RFC 6121 §2.1.6: a resource that asked for the roster wants pushes from now on.
      event.origin.interested = true;
      const clientVer = query.attrs.ver;
      const ver = await roster.version(username);
      if (clientVer !== undefined && clientVer === ver) {
        // §2.6.3: the client's cache is current: empty result, later changes come as pushes.
        return api.replyResult(event);
      }
      const reply = xml('query', { xmlns: NS_ROSTER, ver });
      for (const item of await roster.visible(username)) reply.append(itemElement(item));
      return api.replyResult(event, reply);
    });

    api.hook('iq-set/self/' + NS_ROSTER, async (event) => {
      const username = usernameOf(event);
      if (username === undefined || event.from.domain !== api.host) return api.replyError(event, 'auth', 'forbidden');
      const query = event.stanza.getChild('query', NS_ROSTER)!;
      const items = query.getChildren('item');
      // §2.3.3: exactly one item per set.
      if (items.length !== 1 || query.elements().length !== 1) {
        return api.replyError(event, 'modify', 'bad-request', 'a roster set carries exactly one item');
      }
      const el = items[0]!;
      const jid = tryParseJid(el.attrs.jid);
      if (!jid) return api.replyError(event, 'modify', 'bad-request', 'missing or malformed jid');
      // Roster items are bare JIDs in practice; a full JID is kept as given (RFC allows it), but
      // everything else in Roost addresses contacts by bare JID, so normalise.
      const contact = jid.bare;

      if (el.attrs.subscription === 'remove') {
        return roster.lock(username, async () => {
          const existing = await roster.get(username, contact);
          // §2.5.3: removing an item that is not there.
          if (!existing || existing.hidden) return api.replyError(event, 'cancel', 'item-not-found');
          await api.hooks.fireAsync<RosterRemoveEvent>('roster-remove', { username, item: existing });
          await roster.put(username, contact, undefined);
          return api.replyResult(event);
        });
      }

      // §2.1.2.5 / §2.3.3: any other 'subscription' (and 'ask', 'approved') from the client is
      // not the client's to set; it is ignored, the server keeps the real state.
      const name = el.attrs.name;
      if (name !== undefined && name.length > maxName) {
        return api.replyError(event, 'modify', 'not-acceptable', 'name too long');
      }
      const groups: string[] = [];
      for (const g of el.getChildren('group')) {
        const text = g.text();
        if (text.length === 0) return api.replyError(event, 'modify', 'not-acceptable', 'empty group name');
        if (text.length > maxGroup) return api.replyError(event, 'modify', 'not-acceptable', 'group name too long');
        if (groups.includes(text)) return api.replyError(event, 'modify', 'bad-request', 'duplicate group');
        groups.push(text);
      }

      return roster.lock(username, async () => {
        const existing = await roster.get(username, contact);
        if (!existing || existing.hidden) {
          const all = await roster.all(username);
          let count = 0;
          for (const i of all.values()) if (!i.hidden) count++;
          if (count >= maxItems) {
            return api.replyError(event, 'cancel', 'not-allowed', `roster is full (${maxItems} items)`);
          }
        }
        const item: RosterItem = existing ? { ...existing, hidden: false } : blankItem(contact);
        if (name !== undefined && name !== '') item.name = name;
        else delete item.name;
        item.groups = groups;
        await roster.put(username, contact, item);
        return api.replyResult(event);
      });
    });

    // §2.1.1 / §2.3.3: nobody manages another account's roster.
    const notYours = (event: StanzaEvent) => api.replyError(event, 'auth', 'forbidden');
    api.hook('iq-get/bare/' + NS_ROSTER, notYours);
    api.hook('iq-set/bare/' + NS_ROSTER, notYours);
    api.hook('iq-get/host/' + NS_ROSTER, notYours);
    api.hook('iq-set/host/' + NS_ROSTER, notYours);

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      const owner = `${username}@${api.host}`;
      await api.keyval('roster').deleteOwner(owner);
      await api.keyval('rostermeta').deleteOwner(owner);
    });
  },
});
