// Stream parser benchmark (server/src/xml/parser.ts). Prints MB/s of input turned into stanza
// trees, median of several runs, per CPU-second of this process (what one core does, and
// robust when other processes share the machine) and per wall-clock second, for:
//   - typical chat traffic (messages, presences with caps, roster iqs) in 4 KiB reads,
//   - the same traffic in 100-byte reads (per-write overhead),
//   - one 1 MiB stanza in 100-byte reads (must stay linear: a quadratic parser collapses here),
//   - one 1 MiB stanza of non-ASCII text in 100-byte reads (UTF-8 decoding across reads),
//   - one 4 MiB stanza in 100-byte reads: about the MB/s of the 1 MiB one if parsing is linear,
//   - plain saxes on the chat traffic without tree building, as the tokenizer's ceiling.
//
//   npx tsc -p tsconfig.json && node dist/bench/xml-parser.js [--runs 5] [--mb 16]
import { parseArgs } from 'node:util';
import { SaxesParser } from 'saxes';
import { StreamParser, type StreamParserHandler } from '../server/src/xml/parser.js';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, mb: { type: 'string', default: '16' } },
});
const RUNS = Math.max(1, Number(values.runs));
const CHAT_BYTES = Math.max(1, Number(values.mb)) * 1024 * 1024;

const HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
  "to='example.org' version='1.0' xml:lang='en'>";

function chatStanza(i: number): string {
  switch (i % 4) {
    case 0:
    case 1:
      return (
        `<message from='alice@example.org/phone' to='bob@example.org' type='chat' id='m${i}' xml:lang='en'>` +
        `<body>Hello Bob, this is message number ${i}. Are we still on for lunch at noon?</body>` +
        `<active xmlns='http://jabber.org/protocol/chatstates'/>` +
        `<request xmlns='urn:xmpp:receipts'/><origin-id xmlns='urn:xmpp:sid:0' id='o${i}'/></message>`
      );
    case 2:
      return (
        `<presence from='carol@example.org/laptop' id='p${i}'><show>away</show><status>In a meeting</status>` +
        `<priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' ` +
        `node='https://example.org/client' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>`
      );
    default:
      return (
        `<iq type='set' id='r${i}'><query xmlns='jabber:iq:roster'>` +
        `<item jid='dave${i}@example.org' name='Dave ${i}' subscription='both'><group>Friends</group></item>` +
        `</query></iq>`
      );
  }
}

function chatTraffic(): { data: Buffer; stanzas: number } {
  const parts = [HEADER];
  let size = HEADER.length;
  let n = 0;
  while (size < CHAT_BYTES) {
    const s = chatStanza(n++);
    parts.push(s);
    size += s.length;
  }
  return { data: Buffer.from(parts.join('') + '</stream:stream>'), stanzas: n };
}

function bigStanza(text: string, mib = 1): { data: Buffer; stanzas: number } {
  // A stanza of `mib` MiB: a body with long text plus many small child elements with attributes.
  const half = (mib * 1024 * 1024) / 2;
  const items: string[] = [];
  let size = 0;
  for (let i = 0; size < half; i++) {
    const s = `<item id='i${i}' kind='x'>${text}</item>`;
    items.push(s);
    size += Buffer.byteLength(s);
  }
  const words: string[] = [];
  const wordBytes = Buffer.byteLength(text + ' ');
  for (let b = 0; b < half; b += wordBytes) words.push(text);
  const body = words.join(' ');
  const stanza = `<message to='bob@example.org' id='big'><body>${body}</body><x xmlns='urn:example:bulk'>${items.join('')}</x></message>`;
  return { data: Buffer.from(HEADER + stanza + '</stream:stream>'), stanzas: 1 };
}

function chunks(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += size) out.push(data.subarray(off, off + size));
  return out;
}

interface Timing {
  wall: number;
  cpu: number;
}

function timed(work: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  work();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

function runParser(reads: Buffer[], expected: number): Timing {
  let stanzas = 0;
  let failure: string | undefined;
  const handler: StreamParserHandler = {
    streamStart() {},
    stanza() {
      stanzas++;
    },
    streamEnd() {},
    error(condition, text) {
      failure = `${condition}: ${text}`;
    },
  };
  const parser = new StreamParser(handler, { maxStanzaSize: 8 * 1024 * 1024, maxDepth: 32 });
  const t = timed(() => {
    for (const r of reads) parser.write(r);
  });
  if (failure !== undefined || stanzas !== expected) throw new Error(`bench input rejected: ${failure ?? `${stanzas}/${expected} stanzas`}`);
  return t;
}

function runSaxesOnly(reads: Buffer[]): Timing {
  const parser = new SaxesParser({ xmlns: false });
  return timed(() => {
    for (const r of reads) parser.write(r.toString('latin1'));
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function measure(name: string, bytes: number, run: () => Timing): void {
  run(); // warm-up
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    const t = run();
    cpu.push(bytes / 1048576 / t.cpu);
    wall.push(bytes / 1048576 / t.wall);
  }
  console.log(
    `${name.padEnd(44)} ${median(cpu).toFixed(1).padStart(6)} MB/s per CPU-s  ${median(wall).toFixed(1).padStart(6)} MB/s wall` +
      `   (CPU runs: ${cpu.map((r) => r.toFixed(1)).join(' ')})`,
  );
}

const chat = chatTraffic();
const big = bigStanza('The quick brown fox jumps over the lazy dog');
const bigUtf8 = bigStanza('Ünïcödé → 日本語のテキスト 🦉 ñ');
const big4 = bigStanza('The quick brown fox jumps over the lazy dog', 4);

console.log(`node ${process.version}, median of ${RUNS} runs, MB = 2^20 bytes of input`);
console.log(`chat traffic: ${(chat.data.length / 1048576).toFixed(1)} MB, ${chat.stanzas} stanzas, ${Math.round(chat.data.length / chat.stanzas)} bytes/stanza`);
const chat4k = chunks(chat.data, 4096);
const chat100 = chunks(chat.data, 100);
measure('chat stanzas, 4 KiB reads', chat.data.length, () => runParser(chat4k, chat.stanzas));
measure('chat stanzas, 100-byte reads', chat.data.length, () => runParser(chat100, chat.stanzas));
measure('one 1 MiB stanza (ASCII), 100-byte reads', big.data.length, () => runParser(chunks(big.data, 100), 1));
measure('one 1 MiB stanza (UTF-8), 100-byte reads', bigUtf8.data.length, () => runParser(chunks(bigUtf8.data, 100), 1));
measure('one 4 MiB stanza (ASCII), 100-byte reads', big4.data.length, () => runParser(chunks(big4.data, 100), 1));
measure('reference: bare saxes tokenizer, 4 KiB reads', chat.data.length, () => runSaxesOnly(chat4k));
