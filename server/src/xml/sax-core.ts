// The restricted, namespace-normalising tree builder under the XMPP stream parser.
//
// Implements, on top of saxes 6.0.0 (a strict, streaming XML 1.0 tokenizer):
// - RFC 6120 §11.1 (https://www.rfc-editor.org/rfc/rfc6120#section-11.1): comments, processing
//   instructions, DTDs and entity references other than the five predefined ones are
//   `restricted-xml`, reported as soon as their first characters arrive, so a DTD (and with it
//   any entity-expansion bomb) is never read, let alone expanded;
// - RFC 6120 §11.5/§11.6: an XML declaration is allowed at the start of a stream, an encoding
//   other than UTF-8 is `unsupported-encoding`;
// - Namespaces in XML 1.0 (Third Edition), https://www.w3.org/TR/xml-names/: prefixes are
//   resolved here (saxes runs without its namespace mode, which allocates an object per
//   attribute and resolves prefixes by walking its whole tag stack), an unbound prefix is
//   `bad-namespace-prefix` (RFC 6120 §4.9.3.2);
// - the stanza size and depth limits (RFC 6120 §13.12 on resource exhaustion), counted while a
//   stanza streams in.
//
// Elements come out in the model of element.ts: unprefixed local names, `xmlns` present exactly
// when an element's namespace differs from its parent's (for a top-level element: from the
// stream's default namespace), and an `xmlns:p` declaration on every element that carries a
// `p:attr`, so that Element.toString() of any subtree is namespace-correct on its own.
//
// The handlers are part of the class (methods, and bound arrow fields for the three that saxes
// calls without a receiver) instead of being registered with on() after construction, which
// changes the parser's shape and was measured markedly slower. The subclass uses saxes
// internals (chunk, i, prevI, text, entity, state, tag, attribList and a few state methods it
// overrides); they are checked when this module loads, and saxes is pinned to 6.0.0 exactly.
import { SaxesParser, type SaxesOptions, type SaxesTagPlain, type XMLDecl } from 'saxes';
import type { StreamErrorCondition } from '../core/session.js';
import { Element } from './element.js';
import { NS_STREAMS, NS_XML, NS_XMLNS } from './namespaces.js';

export interface CoreLimits {
  readonly maxStanzaSize: number;
  readonly maxDepth: number;
}

/** Where the core reports; the stream parser implements it. */
export interface CoreOwner {
  streamStart(attrs: Record<string, string>, defaultNs: string | undefined): void;
  stanza(el: Element): void;
  streamEnd(): void;
  violation(condition: StreamErrorCondition, text: string): void;
}

/** The saxes internals this file relies on (saxes 6.0.0). */
interface SaxesInternals {
  chunk: string;
  i: number;
  prevI: number;
  text: string;
  /** The entity name read so far while in the entity state. */
  entity: string;
  state: number;
  openWakaBang: string;
  /** Attributes of the open tag so far; this file stores them flat: name, value, name, value... */
  attribList: string[];
  tag: { name: string; attributes: Record<string, string>; isSelfClosing?: boolean } | null;
  readonly stateTable: ReadonlyArray<() => void>;
  write(chunk: string | null): unknown;
  sText(): void;
  sEntity(): void;
  sOpenWakaBang(): void;
  sPIFirstChar(): void;
  sPIBody(): void;
  sPIEnding(): void;
  parseEntity(entity: string): string;
  pushAttribPlain(name: string, value: string): void;
  processAttribsPlain(): void;
}

const SaxesBase = SaxesParser as unknown as new (opt: SaxesOptions) => SaxesInternals;

const [S_TEXT, S_ENTITY] = (() => {
  const probe = new SaxesBase({});
  const table = Array.isArray(probe.stateTable) ? probe.stateTable : [];
  const s = [table.indexOf(probe.sText), table.indexOf(probe.sEntity)] as const;
  const ok =
    s[0] >= 0 && s[1] >= 0 && typeof probe.entity === 'string' &&
    typeof probe.i === 'number' && typeof probe.prevI === 'number' &&
    typeof probe.chunk === 'string' && typeof probe.text === 'string' &&
    typeof probe.openWakaBang === 'string' && typeof probe.parseEntity === 'function' &&
    typeof probe.sOpenWakaBang === 'function' && typeof probe.sPIFirstChar === 'function' &&
    typeof probe.sPIBody === 'function' && typeof probe.sPIEnding === 'function' &&
    typeof probe.pushAttribPlain === 'function' && typeof probe.processAttribsPlain === 'function' &&
    Array.isArray(probe.attribList);
  if (!ok) throw new Error('saxes internals are not those of saxes 6.0.0: update server/src/xml/sax-core.ts');
  return s;
})();

const SAXES_OPTIONS: SaxesOptions = { xmlns: false, forceXMLVersion: true, defaultXMLVersion: '1.0' };

/** Prefix bindings in scope; each element that declares prefixes chains a new object. */
type Scope = Record<string, string>;

function rootScope(): Scope {
  const s = Object.create(null) as Scope;
  s.xml = NS_XML;
  return s;
}

const NON_WHITESPACE = /[^ \t\r\n]/;

function clip(s: string): string {
  return s.length > 64 ? s.slice(0, 64) + '…' : s;
}

function badName(name: string, colon: number): boolean {
  return colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) !== -1;
}

const PREDEFINED_ENTITIES = ['amp', 'lt', 'gt', 'quot', 'apos'];

/** True for the start of a character reference or of a predefined entity name. */
function couldBeAllowedEntity(partial: string): boolean {
  return partial.charCodeAt(0) === 0x23 /* # */ || PREDEFINED_ENTITIES.some((e) => e.startsWith(partial));
}

export class SaxCore extends SaxesBase {
  limits: CoreLimits;
  private readonly owner: CoreOwner;
  private stopped = false;
  private headerSeen = false;
  /** Open elements of the current stanza (the stream element is not in it). */
  private readonly els: Element[] = [];
  // Parallel to els, with index 0 for the stream element: resolved namespace (for the stream:
  // its default namespace, which top-level elements are compared with), default namespace in
  // scope, prefix bindings in scope. Arrays of strings instead of a frame object per element.
  private readonly nsStack: string[] = [];
  private readonly defStack: string[] = [];
  private readonly scopeStack: Scope[] = [];
  /** Index in this.chunk from which bytes of the current stanza (or gap) are not counted yet. */
  private regionStart = 0;
  /** Bytes of the current stanza (or gap) in earlier chunks. */
  private regionBytes = 0;
  // Results of processAttribsPlain/resolveName, kept in fields to avoid an allocation per element.
  private declDefault: string | undefined = undefined;
  private declScope: Scope;
  private resolvedNs = '';
  private resolvedLocal = '';

  constructor(owner: CoreOwner, limits: CoreLimits) {
    super(SAXES_OPTIONS);
    this.owner = owner;
    this.limits = limits;
    this.declScope = rootScope();
  }

  /** Ends parsing at once: saxes' write loop runs while i < chunk.length. */
  stop(): void {
    this.stopped = true;
    this.i = this.chunk.length;
  }

  feed(s: string): void {
    this.write(s);
    if (!this.stopped) this.endOfPiece();
  }

  // ------------------------------------------------------------------ restricted XML (§11.1)

  override sOpenWakaBang(): void {
    // '<!' starts a comment, CDATA section, DOCTYPE or markup declaration; only CDATA is allowed.
    if (this.openWakaBang.length === 0) {
      const c = this.chunk.charCodeAt(this.i);
      if (c === 0x2d /* - */) return this.restricted('comments are not allowed');
      if (c !== 0x5b /* [ */) return this.restricted('DTDs and markup declarations are not allowed');
    }
    super.sOpenWakaBang();
  }

  override sPIFirstChar(): void {
    // Only the XML declaration may start with '<?'; it is recognised by saxes once 'xml' is read.
    if (this.chunk.charCodeAt(this.i) !== 0x78 /* x */) return this.restricted('processing instructions are not allowed');
    super.sPIFirstChar();
  }

  override sPIBody(): void {
    this.restricted('processing instructions are not allowed');
  }

  override sPIEnding(): void {
    this.restricted('processing instructions are not allowed');
  }

  override parseEntity(entity: string): string {
    if (entity.charCodeAt(0) !== 0x23 /* # */) {
      switch (entity) {
        case 'amp': case 'lt': case 'gt': case 'quot': case 'apos':
          break;
        default:
          this.restricted(`entity reference &${clip(entity)}; is not allowed (only the predefined entities and character references)`);
          return '';
      }
    }
    return super.parseEntity(entity);
  }

  private restricted(what: string): void {
    this.violation('restricted-xml', what);
  }

  private violation(condition: StreamErrorCondition, text: string): false {
    if (!this.stopped) {
      this.stop();
      this.owner.violation(condition, text);
    }
    return false;
  }

  // ------------------------------------------------------------------ attributes

  override pushAttribPlain(name: string, value: string): void {
    // saxes allocates an object per attribute here; a flat list is enough.
    this.attribList.push(name, value);
  }

  /**
   * Runs when a start tag is complete, just before openTagHandler: builds the attribute object
   * (a plain object, which later property reads and Object.entries in serialisation are faster
   * on than saxes' dictionary), takes namespace declarations out of it into declDefault and
   * declScope, and checks and declares the prefixes of attributes like p:attr.
   */
  override processAttribsPlain(): void {
    const list = this.attribList;
    const tag = this.tag!;
    const attrs: Record<string, string> = {};
    tag.attributes = attrs;
    const n = list.length;
    if (n === 0 || this.stopped) {
      if (n !== 0) this.attribList = [];
      this.declDefault = undefined;
      this.declScope = this.headerSeen ? this.scopeStack[this.els.length]! : rootScope();
      return;
    }
    const header = !this.headerSeen;
    const parentScope = header ? rootScope() : this.scopeStack[this.els.length]!;
    let def: string | undefined;
    let scope = parentScope;
    let prefixed = false;
    const seen = n > 32 ? new Set<string>() : undefined;
    for (let j = 0; j < n; j += 2) {
      const name = list[j]!;
      const value = list[j + 1]!;
      if (seen !== undefined) {
        if (seen.has(name)) return void this.duplicate(name);
        seen.add(name);
      } else {
        for (let k = 0; k < j; k += 2) if (list[k] === name) return void this.duplicate(name);
      }
      if (name.charCodeAt(0) === 0x78 /* x */ && name.startsWith('xml')) {
        if (name === 'xmlns') {
          if (value === NS_XML || value === NS_XMLNS) return void this.nsViolation(`xmlns='${clip(value)}' is reserved`);
          def = value;
          continue;
        }
        if (name.charCodeAt(3) === 0x6e /* n */ && name.charCodeAt(5) === 0x3a /* : */ && name.startsWith('xmlns:')) {
          const prefix = name.slice(6);
          if (prefix.length === 0 || prefix.indexOf(':') !== -1) return void this.nsViolation(`malformed namespace declaration ${clip(name)}`);
          if (prefix === 'xmlns') return void this.nsViolation('the xmlns prefix cannot be declared');
          if (prefix === 'xml' ? value !== NS_XML : value === NS_XML || value === NS_XMLNS) {
            return void this.nsViolation(`${clip(name)}='${clip(value)}' misuses a reserved namespace`);
          }
          if (value === '') return void this.nsViolation(`${clip(name)}='' cannot undeclare a prefix in XML 1.0`);
          if (scope === parentScope) scope = Object.create(parentScope) as Scope;
          scope[prefix] = value;
          // The stream header's declarations are reported with its attributes (xmlns:db...).
          if (header) attrs[name] = value;
          continue;
        }
        if (name.charCodeAt(3) === 0x3a /* : */) {
          // xml:lang, xml:space...: the xml prefix is always bound and needs no declaration.
          if (name.length === 4 || name.indexOf(':', 4) !== -1) return void this.nsViolation(`malformed attribute name ${clip(name)}`);
          attrs[name] = value;
          continue;
        }
      }
      if (name.indexOf(':') !== -1) prefixed = true;
      if (name === '__proto__') Object.defineProperty(attrs, name, { value, enumerable: true, writable: true, configurable: true });
      else attrs[name] = value;
    }
    if (prefixed && !this.declareAttrPrefixes(list, attrs, scope, !header)) return;
    this.attribList = [];
    this.declDefault = def;
    this.declScope = scope;
  }

  /**
   * Checks the prefixes of attributes like p:attr and, when `declare`, puts the xmlns:p
   * declaration each needs on the element itself (declarations are not kept where they were
   * written, since elements lose their prefixes and subtrees get serialised on their own).
   */
  private declareAttrPrefixes(list: string[], attrs: Record<string, string>, scope: Scope, declare: boolean): boolean {
    let needed: string[] | undefined;
    for (let j = 0; j < list.length; j += 2) {
      const name = list[j]!;
      const colon = name.indexOf(':');
      if (colon === -1 || name.startsWith('xml:') || name.startsWith('xmlns:')) continue; // done by the caller
      if (badName(name, colon)) return this.nsViolation(`malformed attribute name ${clip(name)}`);
      const prefix = name.slice(0, colon);
      const uri = scope[prefix];
      if (uri === undefined) return this.violation('bad-namespace-prefix', `unbound namespace prefix '${clip(prefix)}' on attribute ${clip(name)}`);
      (needed ??= []).push(prefix, uri, name.slice(colon + 1));
    }
    if (needed === undefined) return true;
    if (needed.length > 3) {
      // Two prefixes bound to one namespace must not qualify the same local name twice.
      const seen = new Set<string>();
      for (let j = 0; j < needed.length; j += 3) {
        const expanded = needed[j + 1]! + ' ' + needed[j + 2]!;
        if (seen.has(expanded)) return this.nsViolation(`duplicate attribute {${clip(needed[j + 1]!)}}${clip(needed[j + 2]!)}`);
        seen.add(expanded);
      }
    }
    if (declare) for (let j = 0; j < needed.length; j += 3) attrs['xmlns:' + needed[j]!] = needed[j + 1]!;
    return true;
  }

  private duplicate(name: string): void {
    this.attribList = [];
    this.violation('not-well-formed', `duplicate attribute ${clip(name)}`);
  }

  private nsViolation(text: string): false {
    this.attribList = [];
    return this.violation('not-well-formed', text);
  }

  // ------------------------------------------------------------------ saxes events

  // saxes calls these three without a receiver (it copies them into locals first), so they are
  // bound per instance; the others it calls as methods.
  readonly errorHandler = (err: Error): void => {
    this.violation('not-well-formed', err.message);
  };

  xmldeclHandler(decl: XMLDecl): void {
    if (this.stopped) return;
    if (decl.encoding !== undefined && decl.encoding.toLowerCase() !== 'utf-8') {
      this.violation('unsupported-encoding', `encoding ${clip(decl.encoding)} is not supported; XMPP streams are UTF-8`);
    } else if (decl.version !== undefined && decl.version !== '1.0') {
      this.violation('bad-format', `XML version ${clip(decl.version)} is not supported; XMPP streams are XML 1.0`);
    }
  }

  openTagHandler(tag: SaxesTagPlain): void {
    if (this.stopped) return;
    if (!this.headerSeen) return this.openStream(tag);
    const depth = this.els.length;
    if (depth >= this.limits.maxDepth) {
      this.violation('policy-violation', `element nesting deeper than the limit of ${this.limits.maxDepth} levels (maxDepth)`);
      return;
    }
    const top = depth; // index of the parent in the namespace stacks
    const attrs = tag.attributes;
    const def = this.declDefault ?? this.defStack[top]!;
    const scope = this.declScope;
    if (!this.resolveName(tag.name, def, scope)) return;
    const ns = this.resolvedNs;
    if (ns !== this.nsStack[top]) attrs.xmlns = ns;
    const el = new Element(this.resolvedLocal);
    el.attrs = attrs;
    if (depth > 0) this.els[depth - 1]!.children.push(el);
    this.els.push(el);
    this.nsStack.push(ns);
    this.defStack.push(def);
    this.scopeStack.push(scope);
  }

  readonly closeTagHandler = (): void => {
    if (this.stopped) return;
    const depth = this.els.length;
    if (depth === 0) {
      // The stream element itself: </stream:stream> (saxes has checked that the names match).
      this.stop();
      this.owner.streamEnd();
      return;
    }
    const el = this.els.pop()!;
    this.nsStack.pop();
    this.defStack.pop();
    this.scopeStack.pop();
    if (depth > 1) return;
    // A top-level element is complete: saxes' index is just past its final '>'.
    const end = this.i;
    const chars = end - this.regionStart;
    const max = this.limits.maxStanzaSize;
    // A UTF-16 unit is at most 3 UTF-8 bytes: count bytes only for stanzas that may be too big.
    if (this.regionBytes + chars * 3 > max) {
      const size = this.regionBytes + Buffer.byteLength(this.chunk.slice(this.regionStart, end));
      if (size > max) {
        this.violation('policy-violation', `stanza of ${size} bytes is larger than the limit of ${max} bytes (maxStanzaSize)`);
        return;
      }
    }
    this.regionStart = end;
    this.regionBytes = 0;
    this.owner.stanza(el);
  };

  readonly textHandler = (text: string): void => {
    if (this.stopped) return;
    const depth = this.els.length;
    if (depth === 0) return this.streamLevelText(text);
    const kids = this.els[depth - 1]!.children;
    const last = kids.length - 1;
    // Text next to a CDATA section arrives in pieces; keep one text node.
    if (last >= 0 && typeof kids[last] === 'string') kids[last] = (kids[last] as string) + text;
    else kids.push(text);
  };

  cdataHandler(text: string): void {
    if (this.stopped) return;
    if (this.els.length === 0) {
      if (this.headerSeen) this.violation('bad-format', 'character data between stanzas');
      return;
    }
    this.textHandler(text);
  }

  // ------------------------------------------------------------------ internals

  private streamLevelText(text: string): void {
    // Before the header saxes itself rejects anything but whitespace.
    if (!this.headerSeen) return;
    if (NON_WHITESPACE.test(text)) {
      this.violation('bad-format', `character data between stanzas: ${JSON.stringify(clip(text))}`);
      return;
    }
    // Whitespace keepalive (RFC 6120 §4.6.1): saxes reports it on reading the next '<', so the
    // next stanza starts at prevI.
    this.regionStart = this.prevI;
    this.regionBytes = 0;
  }

  /**
   * Counts the bytes of this chunk that belong to an unfinished stanza (or stream header), so an
   * oversize stanza is stopped within one chunk of crossing the limit instead of at its end.
   */
  private endOfPiece(): void {
    const max = this.limits.maxStanzaSize;
    if (this.headerSeen && this.els.length === 0 && this.state === S_TEXT) {
      // Between stanzas with only whitespace pending: drop it, or an idle stream that sends
      // keepalives for days would add them up (in saxes' text buffer and in our count).
      if (this.text.length !== 0) {
        if (NON_WHITESPACE.test(this.text)) {
          this.violation('bad-format', `character data between stanzas: ${JSON.stringify(clip(this.text))}`);
          return;
        }
        this.text = '';
      }
      this.regionStart = 0;
      this.regionBytes = 0;
      return;
    }
    if (this.state === S_ENTITY && !couldBeAllowedEntity(this.entity)) {
      // An unfinished reference that can no longer become one of the allowed ones: say so now
      // rather than when (if ever) its ';' arrives.
      this.restricted(`entity reference &${clip(this.entity)}… is not allowed (only the predefined entities and character references)`);
      return;
    }
    const chunk = this.chunk;
    const start = this.regionStart;
    this.regionBytes += Buffer.byteLength(start === 0 ? chunk : chunk.slice(start));
    this.regionStart = 0;
    if (this.regionBytes > max) {
      const what = this.headerSeen ? 'stanza' : 'stream header';
      this.violation('policy-violation', `${what} larger than the limit of ${max} bytes (maxStanzaSize)`);
    }
  }

  private openStream(tag: SaxesTagPlain): void {
    const scope = this.declScope;
    const def = this.declDefault;
    if (!this.resolveName(tag.name, def ?? '', scope)) return;
    if (this.resolvedNs !== NS_STREAMS || this.resolvedLocal !== 'stream') {
      this.violation(
        'invalid-namespace',
        `the stream header must be <stream> in ${NS_STREAMS}, not <${clip(this.resolvedLocal)}> in '${clip(this.resolvedNs)}'`,
      );
      return;
    }
    this.headerSeen = true;
    this.nsStack.push(def ?? '');
    this.defStack.push(def ?? '');
    this.scopeStack.push(scope);
    this.regionStart = this.i;
    this.regionBytes = 0;
    this.owner.streamStart(tag.attributes, def);
  }

  /** Splits a qualified element name into resolvedLocal / resolvedNs. */
  private resolveName(name: string, def: string, scope: Scope): boolean {
    const colon = name.indexOf(':');
    if (colon === -1) {
      this.resolvedLocal = name;
      this.resolvedNs = def;
      return true;
    }
    if (badName(name, colon)) return this.violation('not-well-formed', `malformed element name ${clip(name)}`);
    const prefix = name.slice(0, colon);
    if (prefix === 'xmlns') return this.violation('not-well-formed', 'elements cannot have the xmlns prefix');
    const ns = scope[prefix];
    if (ns === undefined) return this.violation('bad-namespace-prefix', `unbound namespace prefix '${clip(prefix)}' on <${clip(name)}>`);
    this.resolvedLocal = name.slice(colon + 1);
    this.resolvedNs = ns;
    return true;
  }
}
