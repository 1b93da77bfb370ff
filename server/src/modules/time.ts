// XEP-0202: Entity Time
// https://xmpp.org/extensions/xep-0202.html
// Version 2.0 (2009-09-11)
//
// The server reports UTC with a zero offset: a server's local zone means nothing to its users.
import { defineModule } from '../core/module.js';
import { xml } from '../xml/element.js';

export const NS_TIME = 'urn:xmpp:time';

/** XEP-0082 DateTime in UTC, without milliseconds' noise beyond what clients parse. */
export function xmppDateTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export default defineModule({
  name: 'time',
  spec: 'XEP-0202: Entity Time',
  load(api) {
    api.disco.addFeature(NS_TIME);
    api.hook('iq-get/host/' + NS_TIME, (event) =>
      api.replyResult(
        event,
        xml('time', { xmlns: NS_TIME }, xml('tzo', {}, '+00:00'), xml('utc', {}, xmppDateTime(Date.now()))),
      ),
    );
  },
});
