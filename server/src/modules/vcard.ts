// XEP-0054: vcard-temp
// https://xmpp.org/extensions/xep-0054.html
// Version 1.2 (2008-07-16)
//
// Each account has one vCard, stored as a JSON element tree in keyval 'vcard' (owner = bare JID, key
// 'vcard'). Anyone may read it (vCards are public on every server); only the owner may set it.
// A size limit (modules.vcard.maxSize, default 64 KiB) keeps avatars from filling the disk.
import { defineModule, type StanzaEvent } from '../core/module.js';
import { xml } from '../xml/element.js';
import { elementFromJson, elementToJson, xmlSize } from '../xmpp/stored.js';

export const NS_VCARD = 'vcard-temp';
export const DEFAULT_VCARD_MAX = 64 * 1024;

export default defineModule({
  name: 'vcard',
  spec: 'XEP-0054: vcard-temp',
  load(api) {
    const store = api.keyval('vcard');
    const maxSize = typeof api.options.maxSize === 'number' ? api.options.maxSize : DEFAULT_VCARD_MAX;
    api.disco.addFeature(NS_VCARD);

    const get = async (event: StanzaEvent, username: string | undefined, own: boolean) => {
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      const card = elementFromJson(await store.get(`${username}@${api.host}`, 'vcard'));
      if (card) return api.replyResult(event, card);
      // Own vCard: an empty one (clients then offer to fill it in); someone else's: nothing
      // there, as Prosody answers — also for an account that does not exist, so that the
      // answer does not tell which accounts exist.
      if (own) return api.replyResult(event, xml('vCard', { xmlns: NS_VCARD }));
      return api.replyError(event, 'cancel', 'item-not-found');
    };

    api.hook('iq-get/self/' + NS_VCARD, (e) => get(e, e.from.local ?? e.origin.username, true));
    api.hook('iq-get/bare/' + NS_VCARD, (e) => get(e, e.to.local, false));

    api.hook('iq-set/self/' + NS_VCARD, async (event) => {
      const username = event.from.local ?? event.origin.username;
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      const card = event.stanza.getChild('vCard', NS_VCARD);
      if (!card) return api.replyError(event, 'modify', 'bad-request');
      if (xmlSize(card) > maxSize) {
        return api.replyError(event, 'modify', 'not-acceptable', `vCard larger than ${maxSize} bytes`);
      }
      const owner = `${username}@${api.host}`;
      // An empty <vCard/> clears it.
      await store.set(owner, 'vcard', card.elements().length === 0 ? undefined : elementToJson(card));
      await api.hooks.fireAsync('vcard-updated', { username, vcard: card });
      return api.replyResult(event);
    });

    // The account is gone: so is what it stored here.
    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await store.deleteOwner(`${username}@${api.host}`);
    });

    api.hook('iq-set/bare/' + NS_VCARD, (event) => api.replyError(event, 'auth', 'forbidden'));
  },
});
