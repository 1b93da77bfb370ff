// Namespaces the MUC service speaks (XEP-0045 and the extensions it carries).
export const NS_MUC = 'http://jabber.org/protocol/muc';
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
export const NS_MUC_ADMIN = 'http://jabber.org/protocol/muc#admin';
export const NS_MUC_OWNER = 'http://jabber.org/protocol/muc#owner';
export const NS_MUC_ROOMCONFIG = 'http://jabber.org/protocol/muc#roomconfig';
export const NS_MUC_ROOMINFO = 'http://jabber.org/protocol/muc#roominfo';
export const NS_MUC_REQUEST = 'http://jabber.org/protocol/muc#request';
export const NS_MUC_SELF_PING = 'http://jabber.org/protocol/muc#self-ping-optimization';
export const NS_MUC_STABLE_ID = 'http://jabber.org/protocol/muc#stable_id';
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
export const NS_RSM = 'http://jabber.org/protocol/rsm';
export const NS_DELAY = 'urn:xmpp:delay';
export const NS_PING = 'urn:xmpp:ping';
export const NS_VCARD = 'vcard-temp';
export const NS_SID = 'urn:xmpp:sid:0';
export const NS_OCCUPANT_ID = 'urn:xmpp:occupant-id:0';
export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_MAM_EXTENDED = 'urn:xmpp:mam:2#extended';
export const NS_FORWARD = 'urn:xmpp:forward:0';
export const NS_RETRACT = 'urn:xmpp:message-retract:1';
export const NS_RETRACT_TOMBSTONE = 'urn:xmpp:message-retract:1#tombstone';
export const NS_RETRACT_0 = 'urn:xmpp:message-retract:0';
export const NS_MODERATE = 'urn:xmpp:message-moderate:1';
export const NS_MODERATE_0 = 'urn:xmpp:message-moderate:0';
export const NS_FASTEN = 'urn:xmpp:fasten:0';
export const NS_HINTS = 'urn:xmpp:hints';
export const NS_CONFERENCE = 'jabber:x:conference';
export const NS_REFERENCE = 'urn:xmpp:reference:0';
export const NS_DATA = 'jabber:x:data';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
/** Roost's own: the sender's real JID kept inside archived room messages (never sent out). */
export const NS_ROOST_MUC = 'urn:roost:muc:0';
/** Clark-notation prefix of Roost's own room configuration fields (XEP-0068 §3). */
export const ROOST_FIELD = '{urn:roost:muc:config}';
