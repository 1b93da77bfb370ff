// XEP-0030: Service Discovery
// https://xmpp.org/extensions/xep-0030.html
// Version 2.5rc3 (2017-10-03)
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
