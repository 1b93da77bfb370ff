// XEP-0160: Best Practices for Handling Offline Messages
// https://xmpp.org/extensions/xep-0160.html (Version 1.0.1, 2016-10-07)
// XEP-0203: Delayed Delivery
// https://xmpp.org/extensions/xep-0203.html (Version 2.0, 2009-09-15)
// XEP-0334: Message Processing Hints (no-store / no-permanent-store / store)
// https://xmpp.org/extensions/xep-0334.html (Version 0.3.0, 2018-01-25)
//
// Messages for an account without an available non-negative resource (chat/normal, decided by
// the messages module) are stamped with <delay from=domain stamp=.../> and appended to archive
// store 'offline' (owner = bare JID of the recipient). The append is awaited before anything
// else happens, so an accepted message is on disk. At most config.limits.offlineMessages per
// account (options.max overrides); beyond that the sender gets resource-constraint and nothing
// is stored. Delivery happens when the account's session becomes available with priority >= 0
// (`message/offline/broadcast`, fired by the presence module, per XEP-0160 §3 / RFC 6121 §8.5),
// oldest first; delivered items are deleted after being handed to the session.
import { defineModule } from '../core/module.js';
import { xml } from '../xml/element.js';
import type { OfflineHandleEvent } from './messages.js';
import type { OfflineBroadcastEvent } from './presence.js';
import { withLock } from './im/roster-store.js';
import { parseStoredXml } from './im/xml-parse.js';

export const NS_DELAY = 'urn:xmpp:delay';
export const NS_HINTS = 'urn:xmpp:hints';
export const NS_CHATSTATES = 'http://jabber.org/protocol/chatstates';

export default defineModule({
  name: 'offline',
  spec: 'XEP-0160: Best Practices for Handling Offline Messages; XEP-0203: Delayed Delivery',
  load(api) {
    const archive = api.archive('offline');
    const optMax = api.options.max;
    const max =
      typeof optMax === 'number' && Number.isInteger(optMax) && optMax >= 0
        ? optMax
        : (api.config.limits?.offlineMessages ?? 1000);
    const owner = (u: string) => `${u}@${api.host}`;

    api.disco.addFeature('msgoffline');

    api.hook<OfflineHandleEvent>('message/offline/handle', async (event) => {
      const { stanza, username } = event;
      const type = stanza.attrs.type ?? 'normal';
      if (type !== 'chat' && type !== 'normal') return false;
      // XEP-0334: the sender asked us not to keep it.
      if (stanza.getChild('no-store', NS_HINTS) || stanza.getChild('no-permanent-store', NS_HINTS)) return true;
      const body = stanza.getChildText('body');
      // A bare chat state (typing...) is stale by the time anyone reads it (XEP-0085 §5.5).
      if (body === undefined && !stanza.getChild('store', NS_HINTS)) {
        const payload = stanza.elements().filter((e) => e.attrs.xmlns !== NS_CHATSTATES);
        if (payload.length === 0) return true;
      }
      const o = owner(username);
      return withLock('offline:' + o, async () => {
        if ((await archive.count(o)) >= max) {
          return api.replyError(event, 'wait', 'resource-constraint', 'offline storage full');
        }
        const when = Date.now();
        const stored = stanza.clone();
        // XEP-0203 §3: when the server got it, stamped once (an earlier delay of ours is redundant).
        // A message coming back from a session that never acknowledged it (XEP-0198) keeps the
        // time it first arrived.
        const earlier = stored.getChildren('delay', NS_DELAY).find((c) => c.attrs.from === api.host)?.attrs.stamp;
        stored.children = stored.children.filter(
          (c) => typeof c === 'string' || c.name !== 'delay' || c.attrs.xmlns !== NS_DELAY || c.attrs.from !== api.host,
        );
        stored.append(xml('delay', { xmlns: NS_DELAY, from: api.host, stamp: earlier ?? new Date(when).toISOString() }, 'Offline Storage'));
        await archive.append(o, { when, with: event.from.bare, body: body ?? '', xml: stored.toString() });
        return true;
      });
    });

    api.hook<OfflineBroadcastEvent>('message/offline/broadcast', async ({ session, username }) => {
      const o = owner(username);
      await withLock('offline:' + o, async () => {
        // Pages, in case a backend caps unbounded queries; each page is deleted once handed over.
        for (;;) {
          const { items, complete } = await archive.query(o, { limit: 200 });
          if (items.length === 0) return;
          const sent: string[] = [];
          for (const item of items) {
            const el = parseStoredXml(item.xml);
            if (el) session.send(el);
            // An unreadable item is dropped rather than blocking the queue forever.
            sent.push(item.id);
          }
          await archive.delete(o, sent);
          if (complete) return;
        }
      });
    });

    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await archive.delete(owner(username));
    });
  },
});
