// XEP-0084: User Avatar — https://xmpp.org/extensions/xep-0084.html — Version 1.1.4 (2019-09-20)
// XEP-0153: vCard-Based Avatars — https://xmpp.org/extensions/xep-0153.html — Version 1.1.1 (2024-06-10)
// XEP-0398: User Avatar to vCard-Based Avatars Conversion
// https://xmpp.org/extensions/xep-0398.html — Version 1.0.0 (2024-05-06)
// XEP-0172: User Nickname — https://xmpp.org/extensions/xep-0172.html — Version 1.1 (2012-03-21)
//
// Namespaces and the image handling the avatar modules share: both XEPs name an image by the
// hex SHA-1 of its bytes.
import { createHash } from 'node:crypto';
import type { Element } from '../xml/element.js';

export const NS_AVATAR_DATA = 'urn:xmpp:avatar:data';
export const NS_AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
export const NS_VCARD_UPDATE = 'vcard-temp:x:update';
export const NS_PEP_VCARD_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
export const NS_NICK = 'http://jabber.org/protocol/nick';

/** Base64 (RFC 4648 §4) with the line breaks vCards usually carry removed; undefined if invalid. */
export function decodeBase64(text: string): Buffer | undefined {
  const s = text.replace(/[\s]+/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

export function sha1Hex(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

export interface VcardPhoto {
  type: string;
  bytes: Buffer;
  /** Hex SHA-1 of the bytes: the XEP-0153 photo hash and the XEP-0084 item id. */
  hash: string;
}

/** The embedded PHOTO of a vcard-temp card (BINVAL; EXTVAL photos have no hash). */
export function vcardPhoto(vcard: Element | undefined): VcardPhoto | undefined {
  const photo = vcard?.getChild('PHOTO');
  const binval = photo?.getChildText('BINVAL');
  if (binval === undefined) return undefined;
  const bytes = decodeBase64(binval);
  if (!bytes || bytes.length === 0) return undefined;
  return { type: photo!.getChildText('TYPE')?.trim() || 'image/png', bytes, hash: sha1Hex(bytes) };
}
