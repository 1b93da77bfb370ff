// XEP-0049: Private XML Storage
// https://xmpp.org/extensions/xep-0049.html
// Version 1.2 (2004-03-01)
//
// One fragment per (element name, namespace) and account, in keyval 'private' (owner = bare
// JID, key '{namespace}name', value = the element as a JSON tree). Only the owner may read or
// write (§2: forbidden for anyone else). Reserved namespaces (jabber:*, vcard-temp, the stream
// namespace) are refused with not-acceptable, as §2 allows, so nobody hides roster-like data
// where servers expect their own protocols. Limits: modules.private.maxSize bytes per fragment
// (default 64 KiB) and modules.private.maxItems fragments per account (default 100).
import { defineModule, type StanzaEvent } from '../core/module.js';
import { Element, xml } from '../xml/element.js';
import { elementFromJson, elementToJson, xmlSize } from '../xmpp/stored.js';

export const NS_PRIVATE = 'jabber:iq:private';
export const DEFAULT_PRIVATE_MAX_SIZE = 64 * 1024;
export const DEFAULT_PRIVATE_MAX_ITEMS = 100;

export function isReservedNamespace(ns: string | undefined): boolean {
  if (ns === undefined || ns === '') return true;
  return ns.startsWith('jabber:') || ns === 'vcard-temp' || ns === 'http://etherx.jabber.org/streams';
}

function keyOf(el: Element): string {
  return `{${el.attrs.xmlns ?? ''}}${el.name}`;
}

export default defineModule({
  name: 'private',
  spec: 'XEP-0049: Private XML Storage',
  load(api) {
    const store = api.keyval('private');
    const maxSize = typeof api.options.maxSize === 'number' ? api.options.maxSize : DEFAULT_PRIVATE_MAX_SIZE;
    const maxItems = typeof api.options.maxItems === 'number' ? api.options.maxItems : DEFAULT_PRIVATE_MAX_ITEMS;
    // Not advertised as a disco feature by convention (Prosody/ejabberd don't either); clients
    // just try it.

    const ownerOf = (event: StanzaEvent): string | undefined => {
      const username = event.from.local ?? event.origin.username;
      return username === undefined ? undefined : `${username}@${api.host}`;
    };

    api.hook('iq-get/self/' + NS_PRIVATE, async (event) => {
      const owner = ownerOf(event);
      if (owner === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      const query = event.stanza.getChild('query', NS_PRIVATE)!;
      const wanted = query.elements();
      if (wanted.length === 0) return api.replyError(event, 'modify', 'not-acceptable', 'name the element to retrieve');
      if (wanted.some((el) => isReservedNamespace(el.attrs.xmlns))) {
        return api.replyError(event, 'modify', 'not-acceptable', 'reserved namespace');
      }
      const reply = xml('query', { xmlns: NS_PRIVATE });
      for (const el of wanted) {
        const stored = elementFromJson(await store.get(owner, keyOf(el)));
        // Nothing stored: the request's own (empty) element comes back, as clients expect.
        reply.append(stored ?? xml(el.name, { xmlns: el.attrs.xmlns }));
      }
      return api.replyResult(event, reply);
    });

    api.hook('iq-set/self/' + NS_PRIVATE, async (event) => {
      const owner = ownerOf(event);
      if (owner === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      const query = event.stanza.getChild('query', NS_PRIVATE)!;
      const items = query.elements();
      if (items.length === 0) return api.replyError(event, 'modify', 'not-acceptable', 'nothing to store');
      for (const el of items) {
        if (isReservedNamespace(el.attrs.xmlns)) return api.replyError(event, 'modify', 'not-acceptable', 'reserved namespace');
        if (xmlSize(el) > maxSize) {
          return api.replyError(event, 'modify', 'not-acceptable', `fragment larger than ${maxSize} bytes`);
        }
      }
      const existing = await store.getAll(owner);
      const newKeys = new Set(items.map(keyOf).filter((k) => !existing.has(k)));
      if (existing.size + newKeys.size > maxItems) {
        return api.replyError(event, 'wait', 'resource-constraint', `at most ${maxItems} private fragments`);
      }
      for (const el of items) await store.set(owner, keyOf(el), elementToJson(el));
      for (const el of items) await api.hooks.fireAsync('private-updated', { owner, element: el });
      return api.replyResult(event);
    });

    // The account is gone: so is what it stored here.
    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await store.deleteOwner(`${username}@${api.host}`);
    });

    const forbidden = (event: StanzaEvent) => api.replyError(event, 'cancel', 'forbidden');
    api.hook('iq-get/bare/' + NS_PRIVATE, forbidden);
    api.hook('iq-set/bare/' + NS_PRIVATE, forbidden);
  },
});
