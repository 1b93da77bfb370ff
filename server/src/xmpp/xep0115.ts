// XEP-0115: Entity Capabilities
// https://xmpp.org/extensions/xep-0115.html
// Version 1.6.0 (2020-06-10)
export const NS_CAPS = 'http://jabber.org/protocol/caps';
