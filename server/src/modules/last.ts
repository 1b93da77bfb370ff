// XEP-0012: Last Activity
// https://xmpp.org/extensions/xep-0012.html
// Version 2.0 (2008-11-26)
//
// To the domain: seconds since the server started (§5). To an account's bare JID (§3): only for
// the owner and contacts that may see its presence (subscription from/both), as the XEP
// requires; 0 while a resource is online, else seconds since the last logout, with the status
// text of the unavailable presence. The presence module records the logout in keyval 'lastlog'
// (owner = bare JID, key 'last', value { when: ms, status? }).
import { defineModule, type StanzaEvent } from '../core/module.js';
import { xml } from '../xml/element.js';
import { isContactSubscribed } from './disco.js';

export const NS_LAST = 'jabber:iq:last';

export interface LastLog {
  when: number;
  status?: string;
}

export default defineModule({
  name: 'last',
  spec: 'XEP-0012: Last Activity',
  load(api) {
    const started = Date.now();
    const lastlog = api.keyval('lastlog');
    api.disco.addFeature(NS_LAST);

    api.hook('iq-get/host/' + NS_LAST, (event) =>
      api.replyResult(event, xml('query', { xmlns: NS_LAST, seconds: Math.floor((Date.now() - started) / 1000) })),
    );

    const userLast = async (event: StanzaEvent, self: boolean) => {
      const username = self ? (event.from.local ?? event.origin.username) : event.to.local;
      if (username === undefined) return api.replyError(event, 'cancel', 'service-unavailable');
      // A stranger is not subscribed to an account that does not exist either: the same
      // 'forbidden' for both, so the answer does not tell which accounts exist.
      if (!self && !(await isContactSubscribed(api, username, event.from.bare))) {
        return api.replyError(event, 'auth', 'forbidden');
      }
      if (api.sessions.availableSessionsOf(username).length > 0) {
        return api.replyResult(event, xml('query', { xmlns: NS_LAST, seconds: 0 }));
      }
      const rec = await lastlog.get<{ when: number; status?: string }>(`${username}@${api.host}`, 'last');
      if (!rec || typeof rec.when !== 'number') {
        // Never logged out since records began: nothing to tell (§3.2 allows item-not-found).
        return api.replyError(event, 'cancel', 'item-not-found');
      }
      const seconds = Math.max(0, Math.floor((Date.now() - rec.when) / 1000));
      return api.replyResult(event, xml('query', { xmlns: NS_LAST, seconds }, typeof rec.status === 'string' ? rec.status : undefined));
    };
    api.hook('iq-get/bare/' + NS_LAST, (e) => userLast(e, false));
    api.hook('iq-get/self/' + NS_LAST, (e) => userLast(e, true));
  },
});
