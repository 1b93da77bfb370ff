// Namespace names the XML layer itself must know.
//
// Namespaces in XML 1.0 (Third Edition), https://www.w3.org/TR/xml-names/ (the reserved xml and
// xmlns names); RFC 6120 §11.2, https://www.rfc-editor.org/rfc/rfc6120#section-11.2 (the streams
// namespace and the content namespaces a stream may declare as its default).

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_XML = 'http://www.w3.org/XML/1998/namespace';
export const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';

export const NS_CLIENT = 'jabber:client';
export const NS_SERVER = 'jabber:server';
export const NS_COMPONENT_ACCEPT = 'jabber:component:accept';
