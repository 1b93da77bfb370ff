// Elements as JSON, for keyval stores (vCards, private XML): stored payloads come back as the
// same tree without needing the stream parser, and without re-parsing untrusted text.
import { Element, type Node } from '../xml/element.js';
import type { JsonValue } from '../storage/types.js';

/** [name, attrs, ...children]; text children are strings. */
export type StoredElement = [string, Record<string, string>, ...StoredNode[]];
export type StoredNode = StoredElement | string;

export function elementToJson(el: Element): StoredElement {
  return [el.name, { ...el.attrs }, ...el.children.map((c) => (typeof c === 'string' ? c : elementToJson(c)))];
}

/** Rebuilds an element; undefined when the value is not a stored element. */
export function elementFromJson(v: JsonValue | undefined): Element | undefined {
  if (!Array.isArray(v) || typeof v[0] !== 'string') return undefined;
  const attrsRaw = v[1];
  if (!attrsRaw || typeof attrsRaw !== 'object' || Array.isArray(attrsRaw)) return undefined;
  const attrs: Record<string, string> = {};
  for (const [k, val] of Object.entries(attrsRaw)) if (typeof val === 'string') attrs[k] = val;
  const children: Node[] = [];
  for (const c of v.slice(2)) {
    if (typeof c === 'string') children.push(c);
    else {
      const child = elementFromJson(c);
      if (child) children.push(child);
    }
  }
  return new Element(v[0], attrs, children);
}

/** Serialized size in bytes, for size limits. */
export function xmlSize(el: Element): number {
  return Buffer.byteLength(el.toString(), 'utf8');
}
