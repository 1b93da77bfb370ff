// The hardened stream parser (server/src/xml/parser.ts) against RFC 6120 §4.3, §4.9, §11:
// namespace normalisation, restarts, UTF-8 split across reads, one stream error per violation
// with the right condition, limits enforced while a stanza streams in.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import type { StreamErrorCondition } from '../src/core/session.js';
import { Element } from '../src/xml/element.js';
import { NS_STREAMS } from '../src/xml/namespaces.js';
import { parseElement, XmlParseError } from '../src/xml/parse-element.js';
import { StreamParser, type StreamParserLimits } from '../src/xml/parser.js';
import { parseStoredXml } from '../src/modules/im/xml-parse.js';

const HEADER =
  `<stream:stream xmlns='jabber:client' xmlns:stream='${NS_STREAMS}' ` +
  `to='example.org' from='alice@example.org' version='1.0' xml:lang='en' id='s1'>`;

interface Events {
  starts: { attrs: Record<string, string>; defaultNs: string | undefined }[];
  stanzas: Element[];
  ends: number;
  errors: { condition: StreamErrorCondition; text: string }[];
}

function setup(limits: StreamParserLimits = { maxStanzaSize: 65536, maxDepth: 32 }) {
  const events: Events = { starts: [], stanzas: [], ends: 0, errors: [] };
  const parser = new StreamParser(
    {
      streamStart: (attrs, defaultNs) => events.starts.push({ attrs, defaultNs }),
      stanza: (el) => events.stanzas.push(el),
      streamEnd: () => events.ends++,
      error: (condition, text) => events.errors.push({ condition, text }),
    },
    limits,
  );
  return { parser, events };
}

/** Writes data in reads of `size` bytes (all at once without a size). */
function feed(parser: StreamParser, data: string | Buffer, size?: number): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (size === undefined) return parser.write(bytes);
  for (let off = 0; off < bytes.length; off += size) parser.write(bytes.subarray(off, off + size));
}

/** Stanzas of one stream containing `body` after HEADER; fails the test on any error. */
function stanzas(body: string, size?: number): Element[] {
  const { parser, events } = setup();
  feed(parser, HEADER + body, size);
  expect(events.errors).toEqual([]);
  return events.stanzas;
}

function one(body: string): Element {
  const s = stanzas(body);
  expect(s).toHaveLength(1);
  return s[0]!;
}

/** The conditions reported for `body` after HEADER, written at once and in 1-byte reads. */
function conditionsFor(body: string | Buffer, prefix: string = HEADER): StreamErrorCondition[][] {
  const out: StreamErrorCondition[][] = [];
  for (const size of [undefined, 1]) {
    const { parser, events } = setup();
    const data = Buffer.concat([Buffer.from(prefix), typeof body === 'string' ? Buffer.from(body) : body]);
    expect(() => feed(parser, data, size)).not.toThrow();
    // Input after the error is ignored.
    parser.write("<message><body>after the error</body></message>");
    out.push(events.errors.map((e) => e.condition));
  }
  return out;
}

describe('stream header', () => {
  it('reports the header attributes and default namespace', () => {
    const { parser, events } = setup();
    feed(parser, "<?xml version='1.0' encoding='UTF-8'?>" + HEADER);
    expect(events.errors).toEqual([]);
    expect(events.starts).toHaveLength(1);
    const { attrs, defaultNs } = events.starts[0]!;
    expect(defaultNs).toBe('jabber:client');
    expect(attrs).toMatchObject({ to: 'example.org', from: 'alice@example.org', version: '1.0', 'xml:lang': 'en', id: 's1' });
    expect(attrs.xmlns).toBeUndefined();
  });

  it('accepts an unprefixed header in the streams namespace and a BOM', () => {
    const { parser, events } = setup();
    feed(parser, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(`<stream xmlns='${NS_STREAMS}' to='x'>`)]));
    expect(events.errors).toEqual([]);
    expect(events.starts[0]!.attrs.to).toBe('x');
  });

  it('rejects a header outside the streams namespace or with another name', () => {
    expect(conditionsFor('', "<stream:stream xmlns:stream='urn:wrong' xmlns='jabber:client'>")).toEqual([['invalid-namespace'], ['invalid-namespace']]);
    expect(conditionsFor('', "<message xmlns='jabber:client'>")).toEqual([['invalid-namespace'], ['invalid-namespace']]);
    expect(conditionsFor('', `<stream:features xmlns:stream='${NS_STREAMS}'>`)).toEqual([['invalid-namespace'], ['invalid-namespace']]);
  });

  it('rejects an unbound stream prefix', () => {
    expect(conditionsFor('', "<stream:stream xmlns='jabber:client' to='x'>")).toEqual([['bad-namespace-prefix'], ['bad-namespace-prefix']]);
  });

  it('rejects encodings other than UTF-8', () => {
    const decl = "<?xml version='1.0' encoding='ISO-8859-1'?>";
    expect(conditionsFor('', decl + HEADER)).toEqual([['unsupported-encoding'], ['unsupported-encoding']]);
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(HEADER, 'utf16le')]);
    expect(conditionsFor(utf16, '')).toEqual([['unsupported-encoding'], ['unsupported-encoding']]);
    expect(conditionsFor(Buffer.from(HEADER, 'utf16le'), '')).toEqual([['unsupported-encoding'], ['unsupported-encoding']]);
  });

  it('ends the stream on </stream:stream> and ignores what follows', () => {
    const { parser, events } = setup();
    feed(parser, HEADER + '<presence/></stream:stream><message/>garbage');
    expect(events.stanzas).toHaveLength(1);
    expect(events.ends).toBe(1);
    expect(events.errors).toEqual([]);
  });
});

describe('namespace normalisation', () => {
  it('drops a top-level xmlns equal to the stream default and keeps any other', () => {
    const [a, b] = stanzas("<message xmlns='jabber:client' to='bob@example.org'/><message xmlns='jabber:server'/>");
    expect(a!.attrs).toEqual({ to: 'bob@example.org' });
    expect(b!.attrs.xmlns).toBe('jabber:server');
  });

  it('gives stream-namespace elements their local name and the streams namespace', () => {
    const [features, error] = stanzas(
      "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>" +
        "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
    );
    expect(features!.name).toBe('features');
    expect(features!.attrs).toEqual({ xmlns: NS_STREAMS });
    const starttls = features!.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')!;
    expect(starttls.getChild('required')!.attrs).toEqual({});
    expect(error!.name).toBe('error');
    expect(error!.attrs.xmlns).toBe(NS_STREAMS);
    expect(error!.getChild('not-well-formed', 'urn:ietf:params:xml:ns:xmpp-streams')).toBeDefined();
  });

  it('unprefixes payloads and marks namespace changes only where they happen', () => {
    const iq = one(
      "<iq type='set' id='r1' xmlns:r='jabber:iq:roster'>" +
        "<r:query ver='v1'><r:item jid='bob@example.org'><r:group>Friends</r:group></r:item></r:query></iq>",
    );
    expect(iq.attrs).toEqual({ type: 'set', id: 'r1' });
    const query = iq.getChild('query', 'jabber:iq:roster')!;
    expect(query.attrs).toEqual({ xmlns: 'jabber:iq:roster', ver: 'v1' });
    const item = query.getChild('item')!;
    expect(item.attrs).toEqual({ jid: 'bob@example.org' });
    expect(item.getChildText('group')).toBe('Friends');
    expect(iq.toString()).toBe(
      '<iq type="set" id="r1"><query ver="v1" xmlns="jabber:iq:roster"><item jid="bob@example.org"><group>Friends</group></item></query></iq>',
    );
  });

  it('follows default namespace changes, back to the parent namespace and to no namespace', () => {
    const msg = one(
      "<message xmlns:p='urn:p'><x xmlns='urn:x'><y/><z xmlns=''><w/></z></x><p:a><b/></p:a><body>hi</body></message>",
    );
    const x = msg.getChild('x', 'urn:x')!;
    expect(x.getChild('y')!.attrs).toEqual({});
    const z = x.getChild('z')!;
    expect(z.attrs).toEqual({ xmlns: '' });
    expect(z.getChild('w')!.attrs).toEqual({});
    const a = msg.getChild('a', 'urn:p')!;
    // <b/> is in the default namespace in scope (jabber:client), not in its parent's urn:p.
    expect(a.getChild('b')!.attrs).toEqual({ xmlns: 'jabber:client' });
    expect(msg.getChild('body')!.attrs).toEqual({});
  });

  it('resolves prefixes declared on the stream header (dialback)', () => {
    const { parser, events } = setup();
    feed(
      parser,
      `<stream:stream xmlns='jabber:server' xmlns:stream='${NS_STREAMS}' xmlns:db='jabber:server:dialback' to='a.example'>` +
        "<db:result from='b.example' to='a.example'>key</db:result>",
    );
    expect(events.errors).toEqual([]);
    expect(events.starts[0]!.attrs['xmlns:db']).toBe('jabber:server:dialback');
    expect(events.starts[0]!.defaultNs).toBe('jabber:server');
    const result = events.stanzas[0]!;
    expect(result.name).toBe('result');
    expect(result.attrs).toEqual({ from: 'b.example', to: 'a.example', xmlns: 'jabber:server:dialback' });
    expect(result.text()).toBe('key');
  });

  it('keeps prefixed attributes working: xml:lang and p:attr with the declaration they need', () => {
    const msg = one(
      "<message xml:lang='de' xmlns:foo='urn:foo'><body xml:lang='en'>hi</body>" +
        "<x xmlns='urn:x'><y foo:bar='1' plain='2'/></x></message>",
    );
    expect(msg.attrs).toEqual({ 'xml:lang': 'de' });
    expect(msg.getChild('body')!.attrs).toEqual({ 'xml:lang': 'en' });
    const y = msg.getChild('x', 'urn:x')!.getChild('y')!;
    expect(y.attrs).toEqual({ 'foo:bar': '1', plain: '2', 'xmlns:foo': 'urn:foo' });
    // The subtree alone is namespace-correct.
    const again = parseElement(y.toString());
    expect(again.attrs).toEqual(y.attrs);
  });

  it('round-trips through Element.toString() to the same tree', () => {
    const text =
      "<message to='bob@example.org' type='chat' id='m1' xml:lang='en' xmlns:c='http://jabber.org/protocol/chatstates'>" +
      "<body>x &lt; y &amp;&amp; &quot;q&quot; &apos;a&apos; &#x263A;&#128038; <![CDATA[<raw> & ]]>end</body>" +
      "<c:active/><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'>" +
      "<p style='a:b'>para<br/>two</p></body></html>" +
      "<data xmlns='urn:d' xmlns:q='urn:q' q:attr='v' q:other='w'><q:n xmlns=''><m/></q:n></data></message>";
    const first = one(text);
    const serialised = first.toString();
    const second = one(serialised);
    expect(second).toEqual(first);
    expect(second.toString()).toBe(serialised);
    expect(first.getChildText('body')).toBe("x < y && \"q\" 'a' \u263A\u{1F426} <raw> & end");
    expect(first.getChild('active', 'http://jabber.org/protocol/chatstates')).toBeDefined();
    // The stored-stanza parser gives the same tree as a live jabber:client stream.
    expect(parseStoredXml(serialised)).toEqual(first);
    expect(parseStoredXml(text)).toEqual(first);
  });

  it('parseStoredXml rejects what the stream parser rejects', () => {
    expect(parseStoredXml('<message><!-- c --></message>')).toBeUndefined();
    expect(parseStoredXml('<message>&xxe;</message>')).toBeUndefined();
    expect(parseStoredXml('<message/><message/>')).toBeUndefined();
    expect(parseStoredXml('<message>')).toBeUndefined();
    expect(parseStoredXml('<message/></stream:stream><x/>')).toBeUndefined();
    expect(parseStoredXml('')).toBeUndefined();
    expect(() => parseElement('<a><!DOCTYPE x></a>')).toThrow(XmlParseError);
  });
});

describe('stream restart', () => {
  it('expects a new header (with an XML declaration) after reset()', () => {
    const { parser, events } = setup();
    feed(parser, "<?xml version='1.0'?>" + HEADER + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGE=</auth>");
    expect(events.stanzas).toHaveLength(1);
    parser.reset();
    feed(parser, "\n<?xml version='1.0'?>" + HEADER.replace("id='s1'", "id='s2'") + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
    expect(events.errors).toEqual([]);
    expect(events.starts.map((s) => s.attrs.id)).toEqual(['s1', 's2']);
    expect(events.stanzas[1]!.getChild('bind', 'urn:ietf:params:xml:ns:xmpp-bind')).toBeDefined();
  });

  it('discards a half-received stanza and the rest of the read in which reset() is called', () => {
    const events: string[] = [];
    const parser: StreamParser = new StreamParser(
      {
        streamStart: (attrs) => events.push('start ' + attrs.id),
        stanza: (el) => {
          events.push('stanza ' + el.name);
          // As c2s does after <proceed/>: plaintext after <starttls/> must not reach the new stream.
          if (el.name === 'starttls') parser.reset();
        },
        streamEnd: () => events.push('end'),
        error: (condition) => events.push('error ' + condition),
      },
      { maxStanzaSize: 65536, maxDepth: 32 },
    );
    parser.write(HEADER + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><iq type='set' id='injected'/>");
    parser.write(HEADER.replace("id='s1'", "id='s2'") + '<message><body>half');
    parser.reset();
    parser.write(HEADER.replace("id='s1'", "id='s3'") + '<presence/>');
    expect(events).toEqual(['start s1', 'stanza starttls', 'start s2', 'start s3', 'stanza presence']);
  });

  it('applies smaller limits set with setLimits() and keeps them across a restart', () => {
    const { parser, events } = setup({ maxStanzaSize: 65536, maxDepth: 32 });
    feed(parser, HEADER + `<message><body>${'a'.repeat(2000)}</body></message>`);
    expect(events.stanzas).toHaveLength(1);
    parser.setLimits({ maxStanzaSize: 1000, maxDepth: 32 });
    parser.reset();
    feed(parser, HEADER + `<message><body>${'a'.repeat(2000)}</body></message>`);
    expect(events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
    expect(events.stanzas).toHaveLength(1);
  });
});

describe('UTF-8', () => {
  const text = 'Grüße, 日本語, emoji 🦉👍🏽, ZWNBSP \uFEFF, Ω';
  const body = `<message to='ü@example.org'><body lang='日本'>${text}</body></message>`;

  it('decodes characters split across reads (every byte written separately)', () => {
    const whole = stanzas(body);
    const bytewise = stanzas(body, 1);
    expect(bytewise).toEqual(whole);
    expect(bytewise[0]!.getChildText('body')).toBe(text);
    expect(bytewise[0]!.attrs.to).toBe('ü@example.org');
    expect(bytewise[0]!.getChild('body')!.attrs.lang).toBe('日本');
  });

  it('decodes strings with surrogate pairs split across writes', () => {
    const { parser, events } = setup();
    const s = HEADER + body;
    for (const ch of s.split('')) parser.write(ch); // UTF-16 units, halves of pairs apart
    expect(events.errors).toEqual([]);
    expect(events.stanzas[0]!.getChildText('body')).toBe(text);
  });

  it('rejects invalid UTF-8 as not-well-formed', () => {
    const bad = [
      [0xc3, 0x28], // bad continuation
      [0xc0, 0xaf], // overlong '/'
      [0xed, 0xa0, 0x80], // encoded surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xff],
      [0x80], // stray continuation
    ];
    for (const seq of bad) {
      const data = Buffer.concat([Buffer.from('<message><body>'), Buffer.from(seq), Buffer.from('</body></message>')]);
      expect(conditionsFor(data), seq.join(',')).toEqual([['not-well-formed'], ['not-well-formed']]);
    }
  });
});

describe('violations give exactly one error with the right condition', () => {
  const cases: [string, string, StreamErrorCondition][] = [
    ['comment in a stanza', '<message><!-- hi --></message>', 'restricted-xml'],
    ['comment between stanzas', '<presence/><!-- hi -->', 'restricted-xml'],
    ['processing instruction', "<?foo bar='1'?>", 'restricted-xml'],
    ['processing instruction in a stanza', "<message><?xml-stylesheet href='x'?></message>", 'restricted-xml'],
    ['XML declaration after the header', "<?xml version='1.0'?>", 'not-well-formed'],
    ['DOCTYPE after the header', '<!DOCTYPE foo>', 'restricted-xml'],
    ['entity declaration', "<message><!ENTITY x 'y'></message>", 'restricted-xml'],
    ['undeclared entity reference', '<message><body>&nbsp;</body></message>', 'restricted-xml'],
    ['entity reference in an attribute', "<message to='&ext;'/>", 'restricted-xml'],
    ['unbound element prefix', '<foo:message/>', 'bad-namespace-prefix'],
    ['unbound attribute prefix', "<message foo:bar='1'/>", 'bad-namespace-prefix'],
    ['mismatched end tag', '<message></iq>', 'not-well-formed'],
    ['duplicate attribute', "<message to='a' to='b'/>", 'not-well-formed'],
    ['duplicate attribute through two prefixes', "<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>", 'not-well-formed'],
    ['unquoted attribute', '<message to=a/>', 'not-well-formed'],
    ['stray <', '<message><</message>', 'not-well-formed'],
    ['bad character reference', '<message><body>&#0;</body></message>', 'not-well-formed'],
    ['control character', '<message><body>\u0001</body></message>', 'not-well-formed'],
    ['malformed qualified name', "<message xmlns:a='urn:a'><a:b:c/></message>", 'not-well-formed'],
    ['undeclaring a prefix', "<message xmlns:a=''/>", 'not-well-formed'],
    ['rebinding xml', "<message xmlns:xml='urn:x'/>", 'not-well-formed'],
    ['text between stanzas', '<presence/>hello<presence/>', 'bad-format'],
    ['CDATA between stanzas', '<![CDATA[x]]>', 'bad-format'],
    ['a second header inside the stream, closed wrongly', `${HEADER}</message>`, 'not-well-formed'],
  ];
  for (const [name, body, condition] of cases) {
    it(name, () => {
      expect(conditionsFor(body)).toEqual([[condition], [condition]]);
    });
  }

  it('comments, PIs and DOCTYPEs before the header', () => {
    expect(conditionsFor(HEADER, '<!-- hello -->')).toEqual([['restricted-xml'], ['restricted-xml']]);
    expect(conditionsFor(HEADER, "<?xml version='1.0'?><?php echo 1; ?>")).toEqual([['restricted-xml'], ['restricted-xml']]);
    expect(conditionsFor(HEADER, '<!DOCTYPE stream>')).toEqual([['restricted-xml'], ['restricted-xml']]);
  });

  it('reports restricted XML when it starts, not when it ends', () => {
    for (const opener of ['<!--', '<?target', '<!DOCTYPE', '<!ENTITY', '<message>&entity']) {
      const { parser, events } = setup({ maxStanzaSize: 4096, maxDepth: 8 });
      feed(parser, HEADER);
      let reads = 0;
      parser.write(opener);
      const filler = Buffer.from('a'.repeat(1024));
      while (events.errors.length === 0 && reads < 1024) {
        parser.write(filler); // never terminated: 1 MiB of it against a 4 KiB limit
        reads++;
      }
      expect(events.errors.map((e) => e.condition), opener).toEqual(['restricted-xml']);
      expect(reads, opener).toBeLessThanOrEqual(1);
    }
  });

  it('accepts the five predefined entities, character references and CDATA', () => {
    const msg = one("<message><body a='&lt;&#x41;'>&lt;&gt;&amp;&quot;&apos;&#65;&#x1F989;<![CDATA[&lt;]]></body></message>");
    expect(msg.getChildText('body')).toBe('<>&"\'A\u{1F989}&lt;');
    expect(msg.getChild('body')!.attrs.a).toBe('<A');
  });

  it('never expands an entity bomb', () => {
    const lols = ['<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) lols.push(`<!ENTITY lol${i} "${`&lol${i - 1 || ''};`.repeat(10)}">`);
    const bomb = `<?xml version='1.0'?><!DOCTYPE stream:stream [${lols.join('')}]>`;
    const { parser, events } = setup();
    let delivered = 0;
    const attempt = () => {
      // The bomb in the prolog, then a stanza that uses it.
      for (const ch of Buffer.from(bomb + HEADER + '<message><body>&lol9;</body></message>')) {
        parser.write(Buffer.from([ch]));
        delivered++;
        if (events.errors.length > 0) break;
      }
    };
    expect(attempt).not.toThrow();
    expect(events.errors.map((e) => e.condition)).toEqual(['restricted-xml']);
    // Reported at '<!D', long before the internal subset, let alone a reference to it.
    expect(delivered).toBe("<?xml version='1.0'?><!D".length);
    expect(events.stanzas).toEqual([]);
    // A bomb inside the stream fails the same way, and so does a bare reference.
    expect(conditionsFor(`<!DOCTYPE x [${lols.join('')}]><message>&lol9;</message>`)).toEqual([['restricted-xml'], ['restricted-xml']]);
  });

  it('survives garbage bytes with exactly one error', () => {
    // A TLS ClientHello where the stream header should be.
    expect(conditionsFor(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), '')).toEqual([
      ['not-well-formed'],
      ['not-well-formed'],
    ]);
    // Pseudo-random bytes after a valid header (fixed seed: the same inputs on every run).
    let seed = 12345;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let round = 0; round < 300; round++) {
      const junk = Buffer.alloc(1 + (round % 97));
      for (let j = 0; j < junk.length; j++) junk[j] = rand();
      // Start each with '<' half the time so that the tag-level code paths get garbage too.
      if (round % 2 === 0) junk[0] = 0x3c;
      const { parser, events } = setup();
      expect(() => feed(parser, Buffer.concat([Buffer.from(HEADER), junk, Buffer.from('<message/>')]), 1 + (round % 5))).not.toThrow();
      expect(events.errors.length, `round ${round}: ${junk.toString('hex')}`).toBeLessThanOrEqual(1);
      if (events.errors.length === 0) {
        // Only possible when the junk happens to be whitespace or complete, valid markup.
        expect(events.stanzas.length).toBeGreaterThan(0);
      }
    }
  });
});

describe('limits', () => {
  const limits = { maxStanzaSize: 4096, maxDepth: 8 };

  it('counts stanza bytes exactly (UTF-8, keepalive whitespace not included)', () => {
    const stanza = `<message><body>${'é'.repeat(100)}${'a'.repeat(200)}</body></message>`;
    const size = Buffer.byteLength(stanza);
    for (const size2 of [undefined, 1, 7]) {
      const ok = setup({ maxStanzaSize: size, maxDepth: 8 });
      feed(ok.parser, HEADER + ' \n\t ' + stanza + '  ' + stanza, size2);
      expect(ok.events.errors).toEqual([]);
      expect(ok.events.stanzas).toHaveLength(2);
      const over = setup({ maxStanzaSize: size - 1, maxDepth: 8 });
      feed(over.parser, HEADER + stanza, size2);
      expect(over.events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
      expect(over.events.errors[0]!.text).toContain('maxStanzaSize');
    }
  });

  it('stops an oversize stanza while it streams in, also in tiny reads', () => {
    for (const read of [1, 3, 100, 1000, 65536]) {
      const { parser, events } = setup(limits);
      feed(parser, HEADER);
      let written = 0;
      const chunk = Buffer.from('<message><body>' + 'x'.repeat(read * 3));
      // An endless stanza: keep writing until the parser objects (bounded for safety).
      for (let i = 0; i < 100_000 && events.errors.length === 0; i++) {
        const piece = i === 0 ? chunk.subarray(0, read) : chunk.subarray(15, 15 + read);
        parser.write(piece);
        written += piece.length;
      }
      expect(events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
      // Noticed within one read of crossing the limit, never after buffering the whole thing.
      expect(written).toBeGreaterThan(limits.maxStanzaSize - read);
      expect(written).toBeLessThanOrEqual(limits.maxStanzaSize + read);
    }
  });

  it('stops an oversize stanza within one piece when it comes in one big write', () => {
    // If the size were checked only once the write (or the stanza) is complete, the comment
    // near the end would be reported first, as restricted-xml.
    const huge = HEADER + '<message>' + '<a x="1"/>'.repeat(300_000) + '<!-- late --></message>';
    for (const data of [huge, Buffer.from(huge)]) {
      const { parser, events } = setup(limits);
      parser.write(data);
      expect(events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
      expect(events.stanzas).toEqual([]);
    }
  });

  it('limits the stream header too', () => {
    const { parser, events } = setup(limits);
    feed(parser, `<stream:stream xmlns:stream='${NS_STREAMS}' pad='${'p'.repeat(10_000)}'>`, 512);
    expect(events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
    expect(events.starts).toEqual([]);
  });

  it('limits element nesting', () => {
    const nested = (n: number) => '<a>'.repeat(n - 1).replace(/^<a>/, '<message>') + '<b/>' + '</a>'.repeat(n - 2) + '</message>';
    // Depth counts the stanza itself as level 1.
    const atLimit = setup(limits);
    feed(atLimit.parser, HEADER + nested(limits.maxDepth));
    expect(atLimit.events.errors).toEqual([]);
    expect(atLimit.events.stanzas).toHaveLength(1);
    const tooDeep = setup(limits);
    feed(tooDeep.parser, HEADER + nested(limits.maxDepth + 1), 1);
    expect(tooDeep.events.errors.map((e) => e.condition)).toEqual(['policy-violation']);
    expect(tooDeep.events.errors[0]!.text).toContain('maxDepth');
    // A deep bomb: stopped at the limit, long before the input ends.
    expect(conditionsFor('<message>' + '<a>'.repeat(100_000))).toEqual([['policy-violation'], ['policy-violation']]);
  });

  it('ignores any amount of whitespace keepalives between stanzas', () => {
    const { parser, events } = setup(limits);
    feed(parser, HEADER + '<presence/>');
    const keepalive = Buffer.from(' \n'.repeat(512));
    for (let i = 0; i < 1024; i++) parser.write(keepalive); // 1 MiB of keepalives, limit 4 KiB
    feed(parser, '<message><body>still here</body></message>');
    expect(events.errors).toEqual([]);
    expect(events.stanzas.map((s) => s.name)).toEqual(['presence', 'message']);
  });

  it('rejects limits that make no sense', () => {
    expect(() => setup({ maxStanzaSize: 0, maxDepth: 8 })).toThrow(RangeError);
    expect(() => setup({ maxStanzaSize: 1024, maxDepth: Number.NaN })).toThrow(RangeError);
  });
});

describe('big stanzas', () => {
  function bigStanza(): { xml: string; body: string; items: number } {
    const body = 'The quick brown fox jumps over the lazy dog, Grüße 🦉. '.repeat(16000);
    const items = 4000;
    const xml =
      `<message to='bob@example.org'><body>${body}</body><x xmlns='urn:bulk'>` +
      Array.from({ length: items }, (_, i) => `<item n='${i}'>v${i}</item>`).join('') +
      '</x></message>';
    return { xml, body, items };
  }

  it('completes a 1 MiB stanza written in 100-byte reads', () => {
    const { xml, body, items } = bigStanza();
    expect(Buffer.byteLength(xml)).toBeGreaterThan(1024 * 1024);
    const { parser, events } = setup({ maxStanzaSize: 2 * 1024 * 1024, maxDepth: 32 });
    feed(parser, HEADER + xml, 100);
    expect(events.errors).toEqual([]);
    const msg = events.stanzas[0]!;
    expect(msg.getChildText('body')).toBe(body);
    const x = msg.getChild('x', 'urn:bulk')!;
    expect(x.elements()).toHaveLength(items);
    expect(x.elements()[items - 1]!.attrs).toEqual({ n: String(items - 1) });
  });

  it('parses a stanza arriving over a real TCP connection in small segments', async () => {
    const { xml, body } = bigStanza();
    const { parser, events } = setup({ maxStanzaSize: 2 * 1024 * 1024, maxDepth: 32 });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const done = new Promise<void>((resolve) => {
      server.on('connection', (socket) => {
        socket.on('data', (data: Buffer) => parser.write(data));
        socket.on('end', () => {
          parser.end();
          resolve();
        });
      });
    });
    const client = net.connect(port, '127.0.0.1');
    client.setNoDelay(true);
    await new Promise<void>((resolve) => client.on('connect', resolve));
    const data = Buffer.from(HEADER + xml + '<presence/></stream:stream>');
    for (let off = 0; off < data.length; off += 100) client.write(data.subarray(off, off + 100));
    client.end();
    await done;
    server.close();
    expect(events.errors).toEqual([]);
    expect(events.stanzas.map((s) => s.name)).toEqual(['message', 'presence']);
    expect(events.stanzas[0]!.getChildText('body')).toBe(body);
    expect(events.ends).toBe(1);
  });
});

describe('handler exceptions', () => {
  it('are thrown from write() unchanged and stop the parser', () => {
    const boom = new Error('handler bug');
    let calls = 0;
    const parser = new StreamParser(
      {
        streamStart() {},
        stanza() {
          calls++;
          throw boom;
        },
        streamEnd() {},
        error() {
          throw new Error('error() must not be called');
        },
      },
      { maxStanzaSize: 65536, maxDepth: 32 },
    );
    expect(() => parser.write(HEADER + '<message/><message/>')).toThrow(boom);
    parser.write('<message/>');
    expect(calls).toBe(1);
  });

  it('refuse re-entrant writes from a handler', () => {
    let inner: unknown;
    const parser: StreamParser = new StreamParser(
      {
        streamStart() {},
        stanza() {
          try {
            parser.write('<message/>');
          } catch (e) {
            inner = e;
          }
        },
        streamEnd() {},
        error() {},
      },
      { maxStanzaSize: 65536, maxDepth: 32 },
    );
    parser.write(HEADER + '<presence/>');
    expect(String(inner)).toContain('inside one of its handlers');
  });
});

it('builds Elements that behave like constructed ones', () => {
  const el = one("<iq type='get' id='1'><query xmlns='jabber:iq:version'/></iq>");
  expect(el).toBeInstanceOf(Element);
  const copy = el.clone();
  copy.attrs.type = 'result';
  expect(el.attrs.type).toBe('get');
  expect(el.getChildByNs('jabber:iq:version')!.name).toBe('query');
});
