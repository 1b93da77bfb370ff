// `roost check clients`: logs in to the running server as a chat app would and lists, for
// Conversations, Monal and Gajim, each server feature the app looks for (on its server-info
// screen or silently) and whether this server offers it.
//
// What each app checks, and where (from their sources):
//   Conversations (XmppConnection.Features, the account's "Server info"): PEP identity on the
//     account, blocking/carbons/extdisco/spam-reporting on the server, SM/CSI/roster versioning
//     in stream features, MAM and stanza ids on the account, push on account or server, HTTP
//     upload on a disco item, SASL2 and Bind2 (and FAST) before login, publish-options on the
//     account, XEP-0402 bookmarks.
//   Monal (MLServerDetails, MLIQProcessor): blocking, SM, ping, roster versioning, carbons (it
//     enables them: green only if that works), MAM, CSI, push, HTTP upload, roster pre-approval,
//     PEP with the pubsub features it needs (modern: item-ids, multi-items), SCRAM downgrade
//     protection (XEP-0474), SASL2 methods, channel-binding types (XEP-0440); it also reads the
//     external services and the contact addresses.
//   Gajim (ServerInfo window): MUC, vcard-temp, in-band registration, PEP, publish-options,
//     blocking, SM, security labels, carbons, MAM, HTTP upload, avatar conversion, bookmarks
//     conversion and XEP-0402 compat/compat-pep.
// Items Roost does not plan to offer (Gajim's XEP-0258 security labels) are shown as "n/a" and
// not counted.
//
// Account: --user NAME --password PW (any existing account, e.g. against a remote install), or,
// run on the server itself without --user, a temporary account made in the daemon's storage
// for the check and deleted afterwards (not possible when accounts come from LDAP).
// Exit: 0 every item green, 1 some item red, 2 usage, 69 server unreachable or login failed.
import { randomBytes } from 'node:crypto';
import type { RoostConfig } from '../config/types.js';
import { createAccounts } from '../core/accounts.js';
import { prepareDomain, prepareLocalpart } from '../core/jid.js';
import { createStorage } from '../storage/index.js';
import { silentLogger } from '../util/log.js';
import type { Element } from '../xml/element.js';
import { xml } from '../xml/element.js';
import type { CliIo } from './main.js';
import { deleteAccount } from './delete-account.js';
import { configOrExit, configPathOf, parseOrUsage } from './options.js';
import { readPassword } from './password.js';
import { ProbeError, XmppProbe } from './xmpp-probe.js';

const USAGE = `usage: roost check clients [--user NAME --password PW] [--host DOMAIN] [--address IP] [--port N] [--json] [--config FILE]
Logs in to the running server and shows, for Conversations, Monal and Gajim, each feature they
look for and whether the server offers it. Without --user a temporary account is created in the
server's database for the check (run it on the server) and deleted afterwards.`;

const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';
const PUBSUB = 'http://jabber.org/protocol/pubsub';
const NS_SASL2 = 'urn:xmpp:sasl:2';

interface Info {
  features: Set<string>;
  identities: { category: string; type: string }[];
  forms: Element[];
}

/** What the login and the disco queries found. */
export interface Facts {
  pre: Element;
  post: Element;
  mechanisms: string[];
  scramServerFirst?: Map<string, string>;
  server: Info;
  account: Info;
  items: { jid: string; info: Info }[];
  carbonsEnabled: boolean;
  extdisco?: { services: number; turn: boolean };
}

interface CheckDef {
  name: string;
  ok: (f: Facts) => boolean;
  /** What is looked for, for the red case. */
  wants: string;
  /** Not something Roost offers (shown, not counted). */
  notPlanned?: boolean;
  note?: (f: Facts) => string | undefined;
}

const has = (i: Info, feature: string) => i.features.has(feature);
const identity = (i: Info, category: string, type: string) => i.identities.some((x) => x.category === category && x.type === type);
const itemWith = (f: Facts, feature: string) => f.items.some((it) => has(it.info, feature));
const streamFeature = (el: Element, name: string, ns: string) => el.getChild(name, ns) !== undefined;
const sasl2 = (f: Facts) => f.pre.getChild('authentication', NS_SASL2);
const sasl2Inline = (f: Facts, name: string, ns: string) => sasl2(f)?.getChild('inline')?.getChild(name, ns) !== undefined;
const mamOnAccount = (f: Facts) => ['urn:xmpp:mam:2', 'urn:xmpp:mam:1', 'urn:xmpp:mam:0'].some((ns) => has(f.account, ns));
const upload = (f: Facts) => itemWith(f, 'urn:xmpp:http:upload:0') || has(f.server, 'urn:xmpp:http:upload:0');
const pep = (f: Facts) => identity(f.account, 'pubsub', 'pep');
const MONAL_PUBSUB = ['filtered-notifications', 'publish-options', 'publish', 'subscribe', 'create-nodes', 'delete-items', 'delete-nodes', 'persistent-items', 'retrieve-items', 'auto-create'].map((x) => `${PUBSUB}#${x}`);

const extdiscoNote = (f: Facts): string | undefined => {
  if (!has(f.server, 'urn:xmpp:extdisco:2')) return undefined;
  if (!f.extdisco || f.extdisco.services === 0) return 'no STUN/TURN server configured (turn section): calls behind NAT may fail';
  return f.extdisco.turn ? undefined : 'STUN only: TURN credentials are not handed out';
};

const C = {
  pep: { name: 'XEP-0163 Personal Eventing Protocol (PEP)', ok: pep, wants: "identity pubsub/pep on the account's disco#info" },
  publishOptions: { name: 'XEP-0060/0223 PEP publish-options', ok: (f: Facts) => has(f.account, `${PUBSUB}#publish-options`), wants: `${PUBSUB}#publish-options on the account` },
  blocking: { name: 'XEP-0191 Blocking Command', ok: (f: Facts) => has(f.server, 'urn:xmpp:blocking'), wants: 'urn:xmpp:blocking on the server' },
  sm: { name: 'XEP-0198 Stream Management', ok: (f: Facts) => streamFeature(f.post, 'sm', 'urn:xmpp:sm:3'), wants: "stream feature <sm xmlns='urn:xmpp:sm:3'/>" },
  extdisco: { name: 'XEP-0215 External Service Discovery (STUN/TURN)', ok: (f: Facts) => has(f.server, 'urn:xmpp:extdisco:2'), wants: 'urn:xmpp:extdisco:2 on the server', note: extdiscoNote },
  rosterVer: { name: 'XEP-0237 Roster Versioning', ok: (f: Facts) => streamFeature(f.post, 'ver', 'urn:xmpp:features:rosterver'), wants: 'stream feature <ver/>' },
  carbons: { name: 'XEP-0280 Message Carbons', ok: (f: Facts) => has(f.server, 'urn:xmpp:carbons:2'), wants: 'urn:xmpp:carbons:2 on the server' },
  carbonsOn: { name: 'XEP-0280 Message Carbons (enabled)', ok: (f: Facts) => has(f.server, 'urn:xmpp:carbons:2') && f.carbonsEnabled, wants: 'urn:xmpp:carbons:2 on the server and <enable/> accepted' },
  mam: { name: 'XEP-0313 Message Archive Management', ok: mamOnAccount, wants: 'urn:xmpp:mam:2 on the account' },
  mam2: { name: 'XEP-0313 Message Archive Management (mam:2)', ok: (f: Facts) => has(f.account, 'urn:xmpp:mam:2'), wants: 'urn:xmpp:mam:2 on the account' },
  csi: { name: 'XEP-0352 Client State Indication', ok: (f: Facts) => streamFeature(f.post, 'csi', 'urn:xmpp:csi:0'), wants: "stream feature <csi xmlns='urn:xmpp:csi:0'/>" },
  push: { name: 'XEP-0357 Push Notifications', ok: (f: Facts) => has(f.account, 'urn:xmpp:push:0') || has(f.server, 'urn:xmpp:push:0'), wants: 'urn:xmpp:push:0 on the account' },
  upload: { name: 'XEP-0363 HTTP File Upload', ok: upload, wants: 'a disco item with urn:xmpp:http:upload:0' },
  sasl2: { name: 'XEP-0388 Extensible SASL Profile (SASL2)', ok: (f: Facts) => sasl2(f) !== undefined, wants: "<authentication xmlns='urn:xmpp:sasl:2'/> before login" },
  bind2: { name: 'XEP-0386 Bind 2', ok: (f: Facts) => sasl2Inline(f, 'bind', 'urn:xmpp:bind:0'), wants: "<bind xmlns='urn:xmpp:bind:0'/> inline in SASL2" },
  fast: { name: 'XEP-0484 Fast Authentication Streamlining Tokens', ok: (f: Facts) => sasl2Inline(f, 'fast', 'urn:xmpp:fast:0'), wants: "<fast xmlns='urn:xmpp:fast:0'/> inline in SASL2" },
  stanzaIds: { name: 'XEP-0359 Unique and Stable Stanza IDs', ok: (f: Facts) => has(f.account, 'urn:xmpp:sid:0'), wants: 'urn:xmpp:sid:0 on the account' },
  spam: { name: 'XEP-0377 Spam Reporting', ok: (f: Facts) => has(f.server, 'urn:xmpp:reporting:reason:spam:0') || has(f.server, 'urn:xmpp:reporting:1'), wants: 'urn:xmpp:reporting:reason:spam:0 on the server' },
  bookmarks2: { name: 'XEP-0402 Bookmarks 2 (compat-pep)', ok: (f: Facts) => has(f.account, 'urn:xmpp:bookmarks:1#compat-pep'), wants: 'urn:xmpp:bookmarks:1#compat-pep on the account' },
  bookmarksCompat: { name: 'XEP-0402 Bookmarks Compat', ok: (f: Facts) => has(f.account, 'urn:xmpp:bookmarks:1#compat'), wants: 'urn:xmpp:bookmarks:1#compat on the account' },
  ping: { name: 'XEP-0199 XMPP Ping', ok: (f: Facts) => has(f.server, 'urn:xmpp:ping'), wants: 'urn:xmpp:ping on the server' },
  preApproval: { name: 'XEP-0379 / RFC 6121 roster pre-approval', ok: (f: Facts) => streamFeature(f.post, 'sub', 'urn:xmpp:features:pre-approval'), wants: 'stream feature <sub/> (pre-approval)' },
  monalPep: {
    name: 'XEP-0163 PEP with the pubsub features Monal needs',
    ok: (f: Facts) => pep(f) && MONAL_PUBSUB.every((x) => has(f.account, x)) && has(f.account, `${PUBSUB}#item-ids`) && has(f.account, `${PUBSUB}#multi-items`),
    wants: 'pubsub/pep identity and #publish-options, #filtered-notifications, #publish, #subscribe, #create-nodes, #delete-items, #delete-nodes, #persistent-items, #retrieve-items, #auto-create, #item-ids, #multi-items on the account',
  },
  ssdp: { name: 'XEP-0474 SASL SCRAM Downgrade Protection', ok: (f: Facts) => f.scramServerFirst?.has('d') === true, wants: "a 'd' attribute in the SCRAM server-first-message" },
  channelBinding: { name: 'XEP-0440 SASL channel-binding types', ok: (f: Facts) => f.pre.getChild('sasl-channel-binding', 'urn:xmpp:sasl-cb:0') !== undefined, wants: "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'/> before login" },
  muc: { name: 'XEP-0045 Multi-User Chat', ok: (f: Facts) => itemWith(f, 'http://jabber.org/protocol/muc'), wants: 'a disco item with http://jabber.org/protocol/muc' },
  vcard: { name: 'XEP-0054 vcard-temp', ok: (f: Facts) => has(f.server, 'vcard-temp'), wants: 'vcard-temp on the server' },
  register: { name: 'XEP-0077 In-Band Registration (password change)', ok: (f: Facts) => has(f.server, 'jabber:iq:register'), wants: 'jabber:iq:register on the server' },
  secLabels: { name: 'XEP-0258 Security Labels', ok: (f: Facts) => has(f.server, 'urn:xmpp:sec-label:0'), wants: 'urn:xmpp:sec-label:0', notPlanned: true },
  avatarConversion: { name: 'XEP-0398 Avatar Conversion', ok: (f: Facts) => has(f.account, 'urn:xmpp:pep-vcard-conversion:0'), wants: 'urn:xmpp:pep-vcard-conversion:0 on the account' },
  bookmarksConversion: { name: 'XEP-0411 Bookmarks Conversion', ok: (f: Facts) => has(f.account, 'urn:xmpp:bookmarks-conversion:0'), wants: 'urn:xmpp:bookmarks-conversion:0 on the account' },
} satisfies Record<string, CheckDef>;

export const CLIENT_CHECKS: { client: string; checks: CheckDef[] }[] = [
  {
    client: 'Conversations',
    checks: [C.pep, C.publishOptions, C.blocking, C.sm, C.extdisco, C.rosterVer, C.carbons, C.mam, C.csi, C.push, C.upload, C.bind2, C.sasl2, C.fast, C.stanzaIds, C.spam, C.bookmarks2],
  },
  {
    client: 'Monal',
    checks: [C.blocking, C.sm, C.ping, C.rosterVer, C.carbonsOn, C.mam2, C.csi, C.push, C.upload, C.preApproval, C.monalPep, C.ssdp, C.sasl2, C.channelBinding, C.extdisco],
  },
  {
    client: 'Gajim',
    checks: [C.muc, C.vcard, C.register, C.pep, C.publishOptions, C.blocking, C.sm, C.secLabels, C.carbons, C.mam2, C.upload, C.avatarConversion, C.bookmarksConversion, C.bookmarksCompat, C.bookmarks2],
  },
];

export interface ItemResult {
  name: string;
  ok: boolean;
  wants: string;
  notPlanned?: boolean;
  note?: string;
}

export function evaluate(f: Facts): { client: string; items: ItemResult[] }[] {
  return CLIENT_CHECKS.map(({ client, checks }) => ({
    client,
    items: checks.map((c) => {
      const r: ItemResult = { name: c.name, ok: c.ok(f), wants: c.wants };
      if (c.notPlanned) r.notPlanned = true;
      const note = c.note?.(f);
      if (note) r.note = note;
      return r;
    }),
  }));
}

function infoOf(query: Element | undefined): Info {
  return {
    features: new Set((query?.getChildren('feature') ?? []).map((x) => x.attrs.var ?? '')),
    identities: (query?.getChildren('identity') ?? []).map((x) => ({ category: x.attrs.category ?? '', type: x.attrs.type ?? '' })),
    forms: query?.getChildren('x', 'jabber:x:data') ?? [],
  };
}

async function gather(p: XmppProbe, domain: string): Promise<Facts> {
  const bare = p.jid!.split('/')[0]!;
  const info = async (to: string): Promise<Info> => {
    const r = await p.iq('get', xml('query', { xmlns: DISCO_INFO }), to);
    return infoOf(r.attrs.type === 'result' ? r.getChild('query', DISCO_INFO) : undefined);
  };
  const server = await info(domain);
  const account = await info(bare);
  const itemsAnswer = await p.iq('get', xml('query', { xmlns: DISCO_ITEMS }), domain);
  const items: Facts['items'] = [];
  for (const it of itemsAnswer.getChild('query', DISCO_ITEMS)?.getChildren('item') ?? []) {
    const jid = it.attrs.jid;
    if (!jid || it.attrs.node !== undefined || jid === domain) continue;
    items.push({ jid, info: await info(jid).catch(() => infoOf(undefined)) });
  }
  let carbonsEnabled = false;
  if (server.features.has('urn:xmpp:carbons:2')) carbonsEnabled = (await p.iq('set', xml('enable', { xmlns: 'urn:xmpp:carbons:2' }))).attrs.type === 'result';
  const facts: Facts = { pre: p.preAuthFeatures!, post: p.postAuthFeatures!, mechanisms: p.mechanisms(), server, account, items, carbonsEnabled };
  if (p.scramServerFirst) facts.scramServerFirst = p.scramServerFirst;
  if (server.features.has('urn:xmpp:extdisco:2')) {
    const r = await p.iq('get', xml('services', { xmlns: 'urn:xmpp:extdisco:2' }), domain);
    const services = r.getChild('services', 'urn:xmpp:extdisco:2')?.getChildren('service') ?? [];
    facts.extdisco = { services: services.length, turn: services.some((s) => s.attrs.type === 'turn' && s.attrs.password !== undefined) };
  }
  return facts;
}

/** Where to connect: the c2s listener, loopback when it listens on every address. */
function connectAddress(config: RoostConfig, flag: string | true | undefined): string {
  if (typeof flag === 'string') return flag;
  const a = config.listeners.c2s.address;
  if (a === '::' || a === '0.0.0.0') return '127.0.0.1';
  return a;
}

async function withTemporaryAccount<T>(config: RoostConfig, domain: string, fn: (username: string, password: string) => Promise<T>): Promise<T> {
  const storage = createStorage(config.storage, silentLogger);
  await storage.open();
  const accounts = createAccounts(storage, domain);
  const username = `roost-check-${randomBytes(4).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  try {
    await accounts.create(username, password);
    return await fn(username, password);
  } finally {
    try {
      await deleteAccount(config, storage, domain, username);
    } finally {
      await storage.close();
    }
  }
}

const color = (on: boolean) => ({
  green: (s: string) => (on ? `\x1b[32m${s}\x1b[0m` : s),
  red: (s: string) => (on ? `\x1b[31m${s}\x1b[0m` : s),
  dim: (s: string) => (on ? `\x1b[2m${s}\x1b[0m` : s),
});

export async function runCheckClients(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseOrUsage('check clients', argv, ['config', 'user', 'password', 'host', 'address', 'port'], USAGE, io.stderr);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positional.length > 0) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = await configOrExit(configPathOf(parsed), io.stderr);
  if (typeof config === 'number') return config;
  let domain: string;
  let user: string | undefined;
  try {
    const hostFlag = parsed.flags.get('host');
    domain = typeof hostFlag === 'string' ? prepareDomain(hostFlag) : config.hosts[0]!;
    const u = parsed.flags.get('user');
    if (u === true) throw new Error('--user needs a name');
    if (typeof u === 'string') {
      const at = u.lastIndexOf('@');
      if (at >= 0) {
        const d = prepareDomain(u.slice(at + 1));
        if (typeof hostFlag === 'string' && d !== domain) throw new Error(`--user is on ${d} but --host is ${domain}`);
        domain = d;
      }
      user = prepareLocalpart(at >= 0 ? u.slice(0, at) : u);
    }
  } catch (e) {
    io.stderr.write(`roost check clients: ${(e as Error).message}\n`);
    return 2;
  }
  const portFlag = parsed.flags.get('port');
  const port = typeof portFlag === 'string' ? Number(portFlag) : config.listeners.c2s.port;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    io.stderr.write('roost check clients: --port needs a port number\n');
    return 2;
  }
  const address = connectAddress(config, parsed.flags.get('address'));
  const json = parsed.flags.get('json') === true;

  const probe = async (username: string, password: string) => {
    const p = new XmppProbe({ address, port, domain, username, password });
    try {
      await p.login();
      return { facts: await gather(p, domain), tls: p.tls!, mechanism: p.mechanism!, jid: p.jid! };
    } finally {
      p.close();
    }
  };

  let result;
  try {
    if (user !== undefined) {
      const pw = parsed.flags.get('password');
      const password = typeof pw === 'string' ? pw : await readPassword(io, false);
      result = await probe(user, password);
    } else {
      if (config.ldap.enabled) {
        io.stderr.write('roost check clients: accounts come from the directory (ldap), so no temporary account can be made; use --user and --password\n');
        return 2;
      }
      result = await withTemporaryAccount(config, domain, probe);
    }
  } catch (e) {
    const why = e instanceof ProbeError ? e.message : `${(e as Error).message}`;
    io.stderr.write(`roost check clients: ${why}\n`);
    return 69; // EX_UNAVAILABLE
  }

  const clients = evaluate(result.facts);
  const counted = clients.flatMap((c) => c.items).filter((i) => !i.notPlanned);
  const red = counted.filter((i) => !i.ok).length;
  if (json) {
    io.stdout.write(
      JSON.stringify(
        {
          domain,
          address: `${address}:${port}`,
          account: result.jid,
          temporaryAccount: user === undefined,
          mechanism: result.mechanism,
          tls: result.tls,
          clients,
          summary: { green: counted.length - red, red, notPlanned: clients.flatMap((c) => c.items).length - counted.length },
        },
        null,
        2,
      ) + '\n',
    );
    return red === 0 ? 0 : 1;
  }
  const c = color(io.stdout.isTTY === true && !process.env.NO_COLOR);
  const out: string[] = [];
  out.push(`Client feature check for ${domain} (${address}:${port}), logged in as ${result.jid}${user === undefined ? ' (temporary account, deleted afterwards)' : ''} with ${result.mechanism}`);
  const t = result.tls;
  out.push(`TLS: ${t.protocol ?? 'unknown'}; certificate ${t.authorized ? 'trusted' : c.red(`not trusted by this machine (${t.authorizationError ?? 'unknown reason'})`)}`);
  for (const { client, items } of clients) {
    out.push('', client);
    for (const i of items) {
      if (i.notPlanned) {
        out.push(`  ${c.dim('-')} ${c.dim(`${i.name}: n/a (not offered by Roost)`)}`);
        continue;
      }
      const mark = i.ok ? c.green('✔') : c.red('✘');
      let line = `  ${mark} ${i.ok ? i.name : c.red(i.name)}`;
      if (!i.ok) line += c.dim(`  (looks for ${i.wants})`);
      if (i.note) line += `  note: ${i.note}`;
      out.push(line);
    }
  }
  out.push('', red === 0 ? c.green(`All ${counted.length} items green.`) : `${counted.length - red} of ${counted.length} items green, ${c.red(`${red} red`)}.`);
  io.stdout.write(out.join('\n') + '\n');
  return red === 0 ? 0 : 1;
}
