// XEP-0199: XMPP Ping
// https://xmpp.org/extensions/xep-0199.html
// Version 2.0.1 (2019-03-26)
//
// The server answers pings addressed to its domain. Pings without a `to` (to the account
// itself) are answered too: clients use them as keepalives and expect a result rather than
// service-unavailable. Pings to another user's bare JID get the router's default
// service-unavailable; pings to a full JID are routed to that client by the core.
import { defineModule } from '../core/module.js';

export const NS_PING = 'urn:xmpp:ping';

export default defineModule({
  name: 'ping',
  spec: 'XEP-0199: XMPP Ping',
  load(api) {
    api.disco.addFeature(NS_PING);
    api.hook('iq-get/host/' + NS_PING, (event) => api.replyResult(event));
    api.hook('iq-get/self/' + NS_PING, (event) => api.replyResult(event));
  },
});
