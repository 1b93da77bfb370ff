// The schema of roost.yaml: every key, its default, its check, and the one-line explanation
// (`.describe()`) that renderConfigYaml writes above it, so the example file, the installer's
// file and the validator cannot drift apart. Cross-key checks sit on the smallest section that
// holds both keys: zod runs a section's checks even when another section has errors, so the
// admin sees every problem at once.
import { isIP } from 'node:net';
import { z } from 'zod';
import { checkDomain } from './domain.js';
import {
  bareJid,
  count,
  describeValue,
  domainName,
  duration,
  enabled,
  listenAddress,
  optionalPath,
  optionalText,
  port,
  problem,
  size,
  subdomainLabel,
  urlWithScheme,
} from './fields.js';
import { ACME_DIRECTORIES, DEFAULT_PUSH_GATEWAYS, LDAP_FLAVOR_DEFAULTS, LETSENCRYPT_PRODUCTION } from './presets.js';

// ---------- listeners ----------

const listener = (defaultPort: number, on: boolean, what: string) =>
  z
    .object({
      address: listenAddress().default('::').describe('IP address to listen on: :: is every address (IPv6 and IPv4), 127.0.0.1 this machine only.'),
      port: port().default(defaultPort).describe(`Port number (usual: ${defaultPort}).`),
      enabled: z.boolean().default(on).describe('true to open this port, false to keep it closed.'),
    })
    .strict()
    .default({})
    .describe(what);

/** Two listening sockets collide when their ports match and one address covers the other. */
function addressesOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  // On a dual-stack system '::' also takes every IPv4 address, so it collides with anything.
  if (a === '::' || b === '::') return true;
  if (a === '0.0.0.0') return isIP(b) === 4;
  if (b === '0.0.0.0') return isIP(a) === 4;
  return false;
}

const listeners = z
  .object({
    c2s: listener(5222, true, 'Chat apps connect here and switch to encryption (STARTTLS) before logging in.'),
    c2sDirectTls: listener(5223, true, 'Chat apps connect here encrypted from the first byte (XEP-0368, faster on mobile networks).'),
    s2s: listener(5269, false, 'Other chat servers connect here (federation); closed until federation is turned on.'),
    http: listener(5280, true, 'Web port without encryption (file upload links, certificate checks); keep it behind a proxy or local.'),
    https: listener(5281, true, 'Encrypted web port (file upload and download, web chat).'),
  })
  .strict()
  .superRefine((l, ctx) => {
    const on = (Object.entries(l) as Array<[string, { address: string; port: number; enabled: boolean }]>).filter(([, x]) => x.enabled);
    on.forEach(([name, x], i) => {
      const clash = on.slice(0, i).find(([, y]) => y.port === x.port && addressesOverlap(x.address, y.address));
      if (clash)
        problem(
          ctx,
          `port ${x.port} on ${x.address} is already used by listeners.${clash[0]} (${clash[1].address} port ${clash[1].port})`,
          'give each listener its own port, or turn one off with enabled: false',
          [name, 'port'],
        );
    });
  })
  .default({})
  .describe('The network ports Roost listens on.');

// ---------- limits ----------

const limits = z
  .object({
    stanzaSize: size({ min: 10000, minHint: 'RFC 6120 section 13.12 forbids less than 10000 bytes' })
      .default('256KiB')
      .describe('Largest single message or request a client may send.'),
    depth: z.number().int().min(4).max(1000).default(32).describe('Deepest nesting of XML elements inside one message.'),
    preAuthSize: size({ min: 4096, minHint: 'the login exchange itself needs about 4 KiB' })
      .default('16KiB')
      .describe('Data a connection may send before it has logged in.'),
    authTimeout: duration().default('60s').describe('Time from connecting to logged in; slower connections are closed.'),
    idleTimeout: duration().default('10m').describe('Silence after which Roost checks whether a connection is still alive (ping).'),
    pingTimeout: duration().default('60s').describe('How long that check waits for an answer before closing the connection.'),
    sendBuffer: size().default('1MiB').describe('Data queued for a slow client before Roost disconnects it.'),
    offlineMessages: count().default(1000).describe('Messages kept for a user who is offline (0: keep none).'),
    loginFailuresPerAddress: z.number().int().min(1).default(10).describe('Failed logins per minute from one network address before Roost slows it down.'),
    loginFailuresPerAccount: z.number().int().min(1).default(20).describe('Failed logins per minute on one account before Roost slows further attempts down.'),
    registrationsPerAddress: count().default(5).describe('New accounts per hour from one network address (when registration is open).'),
    stanzasPerSecond: z.number().int().min(1).default(200).describe('Messages and requests per second one connection may send before it is slowed down.'),
    connectionsPerAddress: z.number().int().min(1).default(100).describe('Connections open at once from one network address.'),
    maxConnections: z.number().int().min(1).default(10000).describe('Connections open at once in total.'),
    maxSessionsPerAccount: z.number().int().min(1).default(10).describe('Devices logged in at once on one account.'),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.connectionsPerAddress > l.maxConnections)
      problem(ctx, `is larger than limits.maxConnections (${l.maxConnections})`, 'one address can never use more than the total', ['connectionsPerAddress']);
    if (l.sendBuffer < l.stanzaSize)
      problem(ctx, `is smaller than limits.stanzaSize (${l.stanzaSize} bytes)`, 'the queue must hold at least one message of the largest size', ['sendBuffer']);
    if (l.preAuthSize > l.stanzaSize)
      problem(ctx, `is larger than limits.stanzaSize (${l.stanzaSize} bytes)`, 'set it below the largest message size', ['preAuthSize']);
  })
  .default({})
  .describe('Protection against overload and abuse. Defaults suit an office of a few hundred people.');

// ---------- storage ----------

const sqlite = z
  .object({
    type: z.literal('sqlite').describe('sqlite: one database file, nothing else to install.'),
    path: z.string().min(1).default('roost.sqlite').describe('The database file; a relative name is inside dataDir.'),
    searchIndexLag: z
      .number()
      .int()
      .min(0)
      .default(100_000)
      .describe(
        'Messages stored while the server is busy join the search index when it is idle; this many may wait (0: index every message as it is stored). Searches always find every message; waiting ones cost a search about 1 ms per 10,000.',
      ),
  })
  .strict();

const postgres = z
  .object({
    type: z.literal('postgres').describe('postgres: a PostgreSQL server.'),
    url: urlWithScheme(['postgres:', 'postgresql:'], 'postgres://roost:secret@localhost:5432/roost', {
      hostOptional: (u) => u.searchParams.has('host'),
    }).describe('Where the PostgreSQL database is: postgres://user:password@server:5432/database.'),
  })
  .strict();

const storage = z
  .discriminatedUnion('type', [sqlite, postgres])
  .default({ type: 'sqlite' })
  .describe('Where accounts, contact lists and stored messages are kept.');

// ---------- tls ----------

const tls = z
  .object({
    certificate: z
      .string()
      .min(1)
      .default('auto')
      .describe('auto: Roost makes its own (self-signed) certificate in dataDir/tls; or the path of a certificate file (PEM).'),
    key: optionalPath().describe('The private key file (PEM) of that certificate; leave empty with auto.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.certificate !== 'auto' && t.key === undefined)
      problem(ctx, 'a certificate file needs its private key', 'add tls.key with the path of the key file', ['certificate']);
    if (t.certificate === 'auto' && t.key !== undefined)
      problem(ctx, 'a key is only used with a certificate file', 'remove tls.key, or set tls.certificate to the certificate file', ['key']);
  })
  .default({})
  .describe('Encryption certificate.');

// ---------- registration ----------

const registration = z
  .object({
    enabled: z.boolean().optional().describe('true lets people create accounts from their chat app (same as mode: open).'),
    mode: z
      .enum(['closed', 'invite', 'open'])
      .optional()
      .describe('closed: only admins create accounts; invite: with an invitation link; open: anyone (with a CAPTCHA).'),
    inviteDays: z.number().int().min(1).max(3650).default(7).describe('How long a link made with "roost invite" stays valid, in days (--days overrides it).'),
    captchaTimeout: duration().default('10m').describe('With mode: open, how long the puzzle in the sign-up form can be answered.'),
  })
  .strict()
  .transform((r, ctx) => {
    // `enabled` predates `mode`; both stay in the result so older modules keep working.
    const mode = r.mode ?? (r.enabled === true ? 'open' : 'closed');
    if (r.enabled !== undefined && r.mode !== undefined && r.enabled !== (r.mode !== 'closed'))
      return problem(
        ctx,
        `enabled: ${r.enabled} contradicts mode: ${r.mode}`,
        r.enabled ? 'mode: closed means no registration; set mode to invite or open, or remove enabled' : 'remove enabled, or set mode: closed',
        ['enabled'],
      );
    return { enabled: mode !== 'closed', mode, inviteDays: r.inviteDays, captchaTimeout: r.captchaTimeout };
  })
  .default({})
  .describe('Creating accounts from chat apps.');

// ---------- log ----------

const log = z
  .object({
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('How much to log: debug, info, warn or error.'),
    format: z.enum(['text', 'json']).default('text').describe('text: lines for people; json: one JSON object per line for log collectors.'),
  })
  .strict()
  .default({})
  .describe('Logging (to standard error, which systemd keeps in the journal).');

// ---------- ldap ----------

const ldap = z
  .object({
    enabled: enabled(false).describe('true: people log in with their directory (LDAP or Active Directory) name and password.'),
    url: optionalText()
      .pipe(urlWithScheme(['ldap:', 'ldaps:'], 'ldaps://dc1.example.org:636').optional())
      .describe('The directory server: ldap://server:389 or ldaps://server:636 (encrypted).'),
    startTls: z.boolean().default(false).describe('true: switch an ldap:// connection to encryption (StartTLS) before sending passwords.'),
    bindDn: optionalText().describe('Account Roost uses to search the directory, e.g. cn=roost,ou=services,dc=example,dc=org.'),
    bindPassword: optionalText().describe('Its password (or use bindPasswordFile to keep it out of this file).'),
    bindPasswordFile: optionalPath().describe('File holding that password (its first line); readable by Roost only.'),
    baseDn: optionalText().describe('Where users are searched, e.g. ou=people,dc=example,dc=org.'),
    flavor: z.enum(['auto', 'openldap', 'ad']).default('auto').describe('Directory type: auto (detected), openldap or ad (Active Directory).'),
    userFilter: z
      .string()
      .min(1)
      .default('auto')
      .describe(`Which entries are users; auto: ${LDAP_FLAVOR_DEFAULTS.openldap.userFilter} on OpenLDAP, ${LDAP_FLAVOR_DEFAULTS.ad.userFilter} on AD.`),
    usernameAttribute: z
      .string()
      .regex(/^(auto|[A-Za-z][A-Za-z0-9-]*)$/, 'must be an attribute name such as uid')
      .default('auto')
      .describe('Attribute holding the login name; auto: uid on OpenLDAP, sAMAccountName on AD.'),
    adminGroup: optionalText().describe('Directory group whose members are chat admins; empty: the adminGroup setting above.'),
    caFile: optionalPath().describe('CA certificate file (PEM) that signed the directory server certificate, if not a public one.'),
    timeoutMs: duration('ms').default(10000).describe('Milliseconds to wait for the directory before giving up.'),
  })
  .strict()
  .superRefine((l, ctx) => {
    if (l.userFilter !== 'auto' && !balancedFilter(l.userFilter))
      problem(ctx, `"${l.userFilter}" is not an LDAP filter`, 'write it in parentheses, e.g. (objectClass=inetOrgPerson)', ['userFilter']);
    if (l.url?.startsWith('ldaps:') && l.startTls)
      problem(ctx, 'startTls is for ldap:// addresses; ldaps:// is encrypted already', 'set startTls: false, or use ldap://', ['startTls']);
    if (l.bindPassword !== undefined && l.bindPasswordFile !== undefined)
      problem(ctx, 'both bindPassword and bindPasswordFile are set', 'keep only one of them', ['bindPasswordFile']);
    if (l.bindDn === undefined && (l.bindPassword !== undefined || l.bindPasswordFile !== undefined))
      problem(ctx, 'a password is set but no bindDn', 'add the account name (bindDn) the password belongs to', [l.bindPassword !== undefined ? 'bindPassword' : 'bindPasswordFile']);
    if (!l.enabled) return;
    if (l.url === undefined) problem(ctx, 'the directory server address is missing', 'add ldap.url, e.g. ldaps://dc1.example.org:636', ['enabled']);
    if (l.baseDn === undefined) problem(ctx, 'the place to search users is missing', 'add ldap.baseDn, e.g. ou=people,dc=example,dc=org', ['enabled']);
    if (l.bindDn !== undefined && l.bindPassword === undefined && l.bindPasswordFile === undefined)
      problem(ctx, 'bindDn has no password', 'add ldap.bindPassword or ldap.bindPasswordFile', ['bindDn']);
  })
  .transform((l) => {
    // A known directory type lets 'auto' be replaced now; with flavor auto the server decides
    // after reading the directory's root DSE (LDAP_FLAVOR_DEFAULTS).
    if (l.flavor === 'auto') return l;
    const d = LDAP_FLAVOR_DEFAULTS[l.flavor];
    return {
      ...l,
      userFilter: l.userFilter === 'auto' ? d.userFilter : l.userFilter,
      usernameAttribute: l.usernameAttribute === 'auto' ? d.usernameAttribute : l.usernameAttribute,
    };
  })
  .default({})
  .describe('Logging in with the office directory (OpenLDAP or Active Directory) instead of chat-only passwords.');

function balancedFilter(f: string): boolean {
  if (!f.startsWith('(') || !f.endsWith(')')) return false;
  let depth = 0;
  for (const ch of f) {
    if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
  }
  return depth === 0;
}

// ---------- acme ----------

const acme = z
  .object({
    enabled: enabled(false).describe("true: get free certificates from Let's Encrypt (or another ACME service) and renew them."),
    directoryUrl: z
      .string()
      .default(LETSENCRYPT_PRODUCTION)
      .transform((v, ctx) => {
        const named = ACME_DIRECTORIES[v];
        if (named) return named;
        let u: URL | undefined;
        try {
          u = new URL(v);
        } catch {
          u = undefined;
        }
        if (u?.protocol !== 'https:')
          return problem(ctx, `"${v}" is not an https:// address`, "use letsencrypt, letsencrypt-staging (for trying out) or your ACME server's https:// directory address");
        return v;
      })
      .describe("The certificate service; letsencrypt-staging for trying out (certificates not trusted)."),
    email: optionalText()
      .pipe(z.string().regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'is not an email address').optional())
      .describe('Email for expiry warnings from the certificate service (optional).'),
    challenge: z
      .enum(['http-01', 'dns-01'])
      .default('http-01')
      .describe('How the service checks the domain is yours: http-01 (needs port 80 reachable) or dns-01 (a DNS record you add).'),
    httpPort: port().default(80).describe('Port the http-01 check connects to (the Internet reaches it as port 80).'),
    caBundle: optionalPath().describe('Extra CA certificate file (PEM) to trust, for a private ACME server.'),
    renewDaysBefore: z.number().int().min(1).max(89).default(30).describe('Renew this many days before the certificate expires.'),
  })
  .strict()
  .default({})
  .describe('Automatic certificates (ACME). When on, the certificates obtained replace tls.certificate.');

// ---------- services ----------

const upload = z
  .object({
    enabled: enabled(true).describe('true: people can share files (pictures, documents) in chats (XEP-0363).'),
    maxFileSize: size({ min: 1 }).default('100MB').describe('Largest file one person can share.'),
    dailyQuota: size({ min: 1 }).default('1GB').describe('Total size one person can share per day.'),
    retentionDays: count().default(30).describe('Days shared files are kept (0: forever).'),
    subdomain: subdomainLabel().default('upload').describe('Name of the file service: upload means upload.<your domain>.'),
    publicUrl: optionalText()
      .pipe(urlWithScheme(['https:'], 'https://files.example.org').optional())
      .describe(
        'Address of the file service when a web proxy stands in front of Roost, e.g. https://files.example.org (links become <this>/upload/…, passed on to the web port unchanged); empty: https://upload.<your domain>:<https port>.',
      ),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.dailyQuota < u.maxFileSize)
      problem(ctx, `is smaller than upload.maxFileSize (${u.maxFileSize} bytes)`, 'nobody could share a file of the largest size; raise dailyQuota or lower maxFileSize', ['dailyQuota']);
  })
  .default({})
  .describe('File sharing.');

const archive = z
  .object({
    enabled: enabled(true).describe('true: the server keeps chat history so every device of a person shows the same messages (XEP-0313).'),
    retentionDays: count().default(365).describe('Days messages are kept (0: forever).'),
    defaultPolicy: z
      .enum(['always', 'roster', 'never'])
      .default('always')
      .describe('What is kept unless a person chooses otherwise: always, roster (only with contacts) or never.'),
  })
  .strict()
  .default({})
  .describe('Message history.');

const muc = z
  .object({
    enabled: enabled(true).describe('true: group chats (chat rooms, XEP-0045).'),
    subdomain: subdomainLabel().default('conference').describe('Name of the group chat service: conference means conference.<your domain>.'),
    creators: z.enum(['all', 'admins']).default('all').describe('Who may create rooms: all (everyone with an account) or admins.'),
    name: z.string().min(1).default('Group chats').describe('Name of the group chat service that apps show when they list services.'),
    persistentByDefault: z
      .boolean()
      .default(true)
      .describe('true: a new room stays, with its history, when everyone has left (unless its creator chooses otherwise); false: new rooms vanish when empty.'),
    subjectChange: z
      .enum(['moderators', 'participants'])
      .default('moderators')
      .describe("Who may change a new room's subject (topic) unless its owner chooses otherwise: moderators, or participants (everyone who may speak)."),
    historyLength: count().default(20).describe('Recent messages someone entering a room is shown (each room may choose up to maxHistoryLength).'),
    maxHistoryLength: count().default(100).describe('Most recent messages a room may be set to show on entering.'),
    archiveRetentionDays: count().default(365).describe('Days room history is kept (0: forever), unless a room owner sets another number.'),
    maxOccupants: z.number().int().min(1).default(1000).describe('Most people in one room at once (owners and admins of the room may always enter).'),
    maxRooms: z.number().int().min(1).default(10000).describe('Most rooms the service holds; creating more is refused.'),
    lockedRoomTimeout: duration().default('10m').describe('How long a new room waits for its creator to finish its settings before it is removed.'),
    voiceRequestInterval: duration().default('60s').describe('Shortest time between two requests to speak from the same person in a moderated room.'),
    maxInvitesPerMessage: z.number().int().min(1).default(20).describe('Most people one invitation message may invite.'),
    archivePageSize: z.number().int().min(1).max(1000).default(250).describe('Most history messages sent for one archive request (apps ask for more pages).'),
    vcardMaxSize: size({ min: 1024 }).default('64KiB').describe("Largest room picture (a room's vCard, XEP-0486)."),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.historyLength > m.maxHistoryLength)
      problem(ctx, `is larger than muc.maxHistoryLength (${m.maxHistoryLength})`, 'raise maxHistoryLength or lower historyLength', ['historyLength']);
  })
  .default({})
  .describe('Group chats.');

const federation = z
  .object({
    enabled: enabled(false).describe('true: talk to people on other chat servers (needs listeners.s2s).'),
    pushGateways: z
      .array(domainName())
      .default([...DEFAULT_PUSH_GATEWAYS])
      .describe("Phone apps' notification services, reached even when federation is off (else phones miss messages)."),
  })
  .strict()
  .default({})
  .describe('Other chat servers.');

const turn = z
  .object({
    enabled: enabled(false).describe('true: hand out TURN credentials so audio/video calls work through firewalls (XEP-0215).'),
    host: optionalText()
      .pipe(
        z
          .string()
          .refine((h) => isIP(h) !== 0 || checkDomain(h).ok, { message: 'must be a server name or IP address', params: { hint: 'for example turn.example.org' } })
          .optional(),
      )
      .describe('The TURN server (coturn) name or address.'),
    port: port().default(3478).describe('Its port (usual: 3478).'),
    tlsPort: z.number().int().min(0).max(65535).default(0).describe('Its TURN-over-TLS port (usual: 5349); 0: TURNS is not offered.'),
    secret: optionalText().describe("coturn's static-auth-secret (use-auth-secret), or use secretFile."),
    secretFile: optionalPath().describe('File holding that secret (its first line).'),
    ttl: duration().default('1d').describe('How long handed-out credentials stay valid.'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.secret !== undefined && t.secretFile !== undefined) problem(ctx, 'both secret and secretFile are set', 'keep only one of them', ['secretFile']);
    if (!t.enabled) return;
    if (t.host === undefined) problem(ctx, 'the TURN server is missing', 'add turn.host, e.g. turn.example.org', ['enabled']);
    if (t.secret === undefined && t.secretFile === undefined) problem(ctx, 'the shared secret is missing', 'add turn.secret or turn.secretFile', ['enabled']);
  })
  .default({})
  .describe('Audio/video call relay (TURN, such as coturn).');

// XEP-0157 contact addresses: URIs (xmpp:, mailto:, https:, tel:) shown in clients' server info.
const contactUri = () =>
  z.string().transform((v, ctx) => {
    const s = v.trim();
    if (/^[a-z][a-z0-9+.-]*:\S+$/i.test(s)) return s;
    const hint = s.includes('@') ? `write xmpp:${s} for a chat address or mailto:${s} for e-mail` : 'write an address such as xmpp:admin@example.org, mailto:abuse@example.org or https://example.org/help';
    return problem(ctx, `"${v}" is not an address with a scheme`, hint);
  });

const contact = z
  .object({
    admin: z.array(contactUri()).default([]).describe('Who runs this server; empty: the admins above, as xmpp: addresses.'),
    abuse: z.array(contactUri()).default([]).describe('Where to report spam or abuse from accounts here.'),
    support: z.array(contactUri()).default([]).describe('Where people get help with their accounts.'),
    security: z.array(contactUri()).default([]).describe('Where to report security problems of this server.'),
  })
  .strict()
  .default({})
  .describe('Contact addresses clients show in their server information (XEP-0157).');

// ---------- mobile sessions ----------

const streamManagement = z
  .object({
    enabled: enabled(true).describe('true: apps confirm what they received and can pick up a dropped connection where it stopped (XEP-0198), so a network change loses no message.'),
    hibernation: duration().default('1h').describe('How long a dropped connection waits to be picked up again; then its unconfirmed messages go to offline storage.'),
    maxResumablePerAccount: z.number().int().min(1).default(5).describe('Sessions of one account that can be picked up again at once; more sessions work but end when their connection drops.'),
    maxQueue: z.number().int().min(10).default(5000).describe('Unconfirmed messages kept for one session; beyond this the session ends and its messages go to offline storage.'),
    inactiveHeld: z.number().int().min(1).default(300).describe('Presence changes and typing notifications held back for an app in the background (XEP-0352); beyond this they are delivered.'),
  })
  .strict()
  .default({})
  .describe('Phones and flaky networks: acknowledgements, resuming dropped connections, background apps.');

const fast = z
  .object({
    enabled: enabled(true).describe('true: an app that logged in once gets a token to log in faster next time (XEP-0484 FAST); a password change revokes every token.'),
    tokenLifetime: duration().default('21d').describe('How long a login token stays valid; an app logging in with a token past half its life gets a fresh one.'),
    maxClientsPerAccount: z.number().int().min(1).default(50).describe('Apps remembered per account (XEP-0388 user agents); the one unused the longest is forgotten, with its token.'),
  })
  .strict()
  .default({})
  .describe('Login tokens for apps (FAST).');

const modules = z
  .object({
    disabled: z.array(z.string().min(1)).default([]).describe('Features to turn off, by module name, e.g. [vcard, version].'),
  })
  // unknown rather than a record type: `disabled` must stay assignable next to the index
  // signature; each module's section is checked to be a section here and by the module itself.
  .catchall(z.unknown())
  .superRefine((m, ctx) => {
    for (const [name, v] of Object.entries(m)) {
      if (name !== 'disabled' && (v === null || typeof v !== 'object' || Array.isArray(v)))
        problem(ctx, `expected a section (key: value lines below it, indented), got ${describeValue(v)}`, `write the settings of ${name} below it, indented, or remove the line`, [name]);
    }
  })
  .default({})
  .describe('Per-feature settings: a section named after the module, e.g. "register: { allowRemove: false }".');

// ---------- the file ----------

const unique = <T>(items: T[], ctx: z.RefinementCtx, what: string): void => {
  items.forEach((x, i) => {
    if (items.indexOf(x) !== i) problem(ctx, `${String(x)} is listed twice`, `remove one of the two ${what}`, [i]);
  });
};

export const roostConfigSchema = z
  .object({
    hosts: z
      .array(domainName())
      .min(1)
      .superRefine((h, ctx) => unique(h, ctx, 'entries'))
      .default(['localhost'])
      .describe('Domains this server serves: the part after @ in addresses. The first is the default.'),
    dataDir: z.string().min(1).default('./data').describe('Folder for the database, certificates and files (or set ROOST_DATA when this line is absent).'),
    storage,
    tls,
    listeners,
    limits,
    registration,
    admins: z
      .array(bareJid())
      .superRefine((a, ctx) => unique(a, ctx, 'entries'))
      .default([])
      .describe('Chat addresses of the administrators, e.g. [alice@example.org].'),
    adminGroup: z.string().min(1).default('jabberadmins').describe('Directory (LDAP) group whose members are administrators.'),
    log,
    ldap,
    acme,
    upload,
    archive,
    muc,
    federation,
    turn,
    contact,
    streamManagement,
    fast,
    modules,
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.acme.enabled) {
      const local = c.hosts.find((h) => h === 'localhost' || !h.includes('.'));
      if (local !== undefined)
        problem(ctx, `a public certificate cannot be issued for "${local}"`, 'use a real domain in hosts, or acme.enabled: false', ['acme', 'enabled']);
    }
    if (c.federation.enabled && !c.listeners.s2s.enabled)
      problem(ctx, 'other servers could not reach this one: listeners.s2s is off', 'set listeners.s2s.enabled: true', ['federation', 'enabled']);
    if (c.ldap.enabled && c.registration.mode !== 'closed')
      problem(ctx, 'accounts come from the directory when ldap is on', 'set registration.mode: closed', ['registration', 'mode']);
    if (c.muc.enabled && c.upload.enabled && c.muc.subdomain === c.upload.subdomain)
      problem(ctx, `"${c.upload.subdomain}" is already the group chat subdomain`, 'give file sharing its own name, e.g. upload', ['upload', 'subdomain']);
    for (const [service, sub] of [
      ['muc', c.muc.enabled ? c.muc.subdomain : undefined],
      ['upload', c.upload.enabled ? c.upload.subdomain : undefined],
    ] as const) {
      if (sub === undefined) continue;
      const taken = c.hosts.find((h) => c.hosts.includes(`${sub}.${h}`));
      if (taken !== undefined)
        problem(ctx, `${sub}.${taken} is both a host and the ${service} service`, `choose another ${service}.subdomain or remove it from hosts`, [service, 'subdomain']);
    }
  })
  .transform((c) => ({ ...c, ldap: { ...c.ldap, adminGroup: c.ldap.adminGroup ?? c.adminGroup } }));

/**
 * Defaults shown in the written file for keys whose value is derived when absent (registration
 * follows `enabled`/`mode`; empty texts mean "not set").
 */
export const SHOWN_DEFAULTS: Record<string, unknown> = {
  'registration.enabled': false,
  'registration.mode': 'closed',
};

export type RoostConfigInput = z.input<typeof roostConfigSchema>;
export type RoostConfigOutput = z.output<typeof roostConfigSchema>;
