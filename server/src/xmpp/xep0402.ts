// XEP-0402: PEP Native Bookmarks — https://xmpp.org/extensions/xep-0402.html
// Version 1.2.0 (2024-08-15)
// XEP-0048: Bookmarks (legacy, storage:bookmarks) — https://xmpp.org/extensions/xep-0048.html
// Version 1.2 (2020-08-04)
// XEP-0411: Bookmarks Conversion — https://xmpp.org/extensions/xep-0411.html
// Version 1.1.0 (2021-10-19)
import type { Element } from '../xml/element.js';

export const NS_BOOKMARKS2 = 'urn:xmpp:bookmarks:1';
/** The server converts between XEP-0402 and XEP-0048 in private XML storage (XEP-0049). */
export const NS_BOOKMARKS2_COMPAT = 'urn:xmpp:bookmarks:1#compat';
/** ...and XEP-0048 in the legacy PEP node storage:bookmarks. */
export const NS_BOOKMARKS2_COMPAT_PEP = 'urn:xmpp:bookmarks:1#compat-pep';
export const NS_BOOKMARKS_CONVERSION = 'urn:xmpp:bookmarks-conversion:0';
export const NS_LEGACY_BOOKMARKS = 'storage:bookmarks';

/** One room bookmark, whichever format it came in. */
export interface Bookmark {
  /** The room's bare JID (the XEP-0402 item id). */
  jid: string;
  name?: string;
  autojoin: boolean;
  nick?: string;
  password?: string;
  /** XEP-0402 <extensions/> children; in XEP-0048 they are extra children of <conference/>. */
  extensions: Element[];
}
