// Archived messages go back to the client as the text they were stored as. Parsing each one
// into a tree only to serialize it again was most of the cost of a query (about 30 µs of 40 per
// result on the development VM); the stored text was itself written by Element.toString() from
// a stanza the server had parsed and checked, so it is well-formed and restricted XML.
// RawXml is an Element whose serialization is that text: it can sit inside a <forwarded/> of a
// stanza built as usual, and it clones as itself (a stream management queue copies stanzas).
import { Element } from '../../xml/element.js';
import { NS_CLIENT } from '../../xml/namespaces.js';

export class RawXml extends Element {
  constructor(readonly raw: string) {
    super('#raw');
  }
  override toString(): string {
    return this.raw;
  }
  override clone(): Element {
    return new RawXml(this.raw);
  }
}

/**
 * The stored message as the child of a <forwarded/> (explicitly in jabber:client), or undefined
 * when the text is not the plain shape Element.toString() writes (then the caller parses it).
 */
export function storedMessage(xml: string): RawXml | undefined {
  if (!xml.startsWith('<message')) return undefined;
  const c = xml.charCodeAt(8);
  // ' ' (attributes follow), '>' or '/': a <message> start tag, not <messageX>.
  if (c !== 32 && c !== 62 && c !== 47) return undefined;
  // Attribute values are written escaped, so the first '>' ends the start tag.
  const end = xml.indexOf('>');
  if (end < 0 || !xml.endsWith('>')) return undefined;
  if (xml.slice(0, end).includes(' xmlns=')) return undefined;
  return new RawXml(`<message xmlns="${NS_CLIENT}"` + xml.slice(8));
}
