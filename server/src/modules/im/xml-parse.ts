// Parses one complete, stored XML stanza (written by Element.toString()) back into an Element.
// It goes through the stream parser's rules (xml/parse-element.ts), so a stored stanza comes
// back with the same namespace normalisation as a live one from a jabber:client stream, and
// text that was tampered with on disk is still held to restricted XML. Anything that does not
// parse gives undefined.
import type { Element } from '../../xml/element.js';
import { NS_CLIENT } from '../../xml/namespaces.js';
import { parseElement } from '../../xml/parse-element.js';

export function parseStoredXml(text: string): Element | undefined {
  try {
    return parseElement(text, { defaultNs: NS_CLIENT });
  } catch {
    return undefined;
  }
}
