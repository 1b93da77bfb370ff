// The XML element type every stanza is held in.
//
// Namespaces are plain `xmlns` attributes. The stream parser (xml/parser.ts) normalises what
// it delivers: names are local (unprefixed); `xmlns` is present exactly where an element's
// namespace differs from its parent's; a top-level stanza has none when it is in the stream's
// default namespace (jabber:client, jabber:server), because the receiving stream supplies its
// own default; an element with a prefixed attribute (p:attr) carries the xmlns:p declaration it
// needs. So a stanza, or any subtree of it, can be re-serialized for routing as it is.

export type Node = Element | string;

export class Element {
  name: string;
  attrs: Record<string, string>;
  children: Node[];

  constructor(name: string, attrs: Record<string, string | number | undefined | null> = {}, children: Node[] = []) {
    this.name = name;
    this.attrs = {};
    for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) this.attrs[k] = String(v);
    this.children = children;
  }

  /** The element's namespace: its own xmlns declaration, else the one inherited at parse time. */
  get xmlns(): string | undefined {
    return this.attrs.xmlns;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  setAttr(name: string, value: string | undefined): this {
    if (value === undefined) delete this.attrs[name];
    else this.attrs[name] = value;
    return this;
  }

  /** Child elements, optionally filtered by local name and/or namespace. */
  getChildren(name?: string, xmlns?: string): Element[] {
    const out: Element[] = [];
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (name !== undefined && c.name !== name) continue;
      if (xmlns !== undefined && c.attrs.xmlns !== xmlns) continue;
      out.push(c);
    }
    return out;
  }

  getChild(name: string, xmlns?: string): Element | undefined {
    for (const c of this.children) {
      if (typeof c === 'string') continue;
      if (c.name === name && (xmlns === undefined || c.attrs.xmlns === xmlns)) return c;
    }
    return undefined;
  }

  /** First child element in a namespace, whatever its name (the payload of an iq). */
  getChildByNs(xmlns: string): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string' && c.attrs.xmlns === xmlns) return c;
    return undefined;
  }

  elements(): Element[] {
    return this.children.filter((c): c is Element => typeof c !== 'string');
  }

  firstElement(): Element | undefined {
    for (const c of this.children) if (typeof c !== 'string') return c;
    return undefined;
  }

  text(): string {
    let s = '';
    for (const c of this.children) if (typeof c === 'string') s += c;
    return s;
  }

  getChildText(name: string, xmlns?: string): string | undefined {
    return this.getChild(name, xmlns)?.text();
  }

  /** Appends a child and returns it, for building nested payloads. */
  c(name: string, attrs: Record<string, string | number | undefined | null> = {}): Element {
    const el = new Element(name, attrs);
    this.children.push(el);
    return el;
  }

  append(...nodes: (Node | undefined | null | false)[]): this {
    for (const n of nodes) if (n !== undefined && n !== null && n !== false) this.children.push(n);
    return this;
  }

  t(text: string): this {
    this.children.push(text);
    return this;
  }

  remove(child: Element): this {
    this.children = this.children.filter((c) => c !== child);
    return this;
  }

  removeChildren(name: string, xmlns?: string): this {
    this.children = this.children.filter(
      (c) => typeof c === 'string' || c.name !== name || (xmlns !== undefined && c.attrs.xmlns !== xmlns),
    );
    return this;
  }

  /** Deep copy, so one stanza can be changed per recipient without touching the others. */
  clone(): Element {
    return new Element(
      this.name,
      { ...this.attrs },
      this.children.map((c) => (typeof c === 'string' ? c : c.clone())),
    );
  }

  toString(): string {
    let s = '<' + this.name;
    for (const [k, v] of Object.entries(this.attrs)) s += ' ' + k + '="' + escapeAttr(v) + '"';
    if (this.children.length === 0) return s + '/>';
    s += '>';
    for (const c of this.children) s += typeof c === 'string' ? escapeText(c) : c.toString();
    return s + '</' + this.name + '>';
  }
}

const attrRe = /[&<>"']/g;
const textRe = /[&<>]/g;
const entity: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeAttr(s: string): string {
  return s.replace(attrRe, (ch) => entity[ch]!);
}

export function escapeText(s: string): string {
  return s.replace(textRe, (ch) => entity[ch]!);
}

/** Shorthand builder: xml('iq', { type: 'result' }, child, 'text'). */
export function xml(
  name: string,
  attrs: Record<string, string | number | undefined | null> = {},
  ...children: (Node | undefined | null | false)[]
): Element {
  return new Element(name, attrs).append(...children);
}
