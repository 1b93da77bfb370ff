// Public types of the appliance layer (host integration shared by the installer and the daemon).
// Kept in one file so the installer can code against them while the bodies evolve.

/** One line of a pre-flight or `roost check` report. `ok: 'warn'` lets the admin continue. */
export interface CheckResult {
  id: string;
  ok: boolean | 'warn';
  message: string;
  /** What to do about it, in plain words (absent when ok === true). */
  fix?: string;
}

// ---------- domain ----------

export interface NameValidation {
  ok: boolean;
  /** The name as DNS and certificates use it (punycode for IDN, lower case, no trailing dot). */
  ascii: string;
  /** The name as people read it (Unicode). */
  unicode: string;
  /** Problems in plain words; empty when ok. */
  errors: string[];
}

// ---------- DNS ----------

export type DnsRecordType = 'A' | 'AAAA' | 'SRV' | 'CAA' | 'TXT' | 'CNAME';

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface RequiredRecord {
  /** Fully qualified, no trailing dot (e.g. `_xmpp-client._tcp.example.org`). */
  name: string;
  type: DnsRecordType;
  /** Expected addresses for A/AAAA (empty: any public address is accepted, placeholder in the zone). */
  addresses?: string[];
  srv?: SrvData;
  /** What the record is for, in plain words. */
  purpose: string;
  /** Not needed for the service to work (e.g. AAAA without IPv6, CAA). */
  optional?: boolean;
  /** Which served name this record belongs to (domain or subdomain), for certificate name selection. */
  serves?: string;
}

export interface RecordPlanOptions {
  /** The XMPP domain (part after @). */
  domain: string;
  /** The machine that runs Roost (SRV target); default: the domain. */
  host?: string;
  /** The public IPv4 address(es) of the host; empty: unknown (placeholder in the snippet). */
  ipv4?: string[];
  ipv6?: string[];
  /** Service subdomain labels (or label + purpose); default conference, pubsub, upload, proxy. */
  subdomains?: Array<string | { label: string; purpose: string }>;
  /** Ports; `false` = not served (no SRV record). Defaults: 5222, 5223, 5269, s2sDirectTls false. */
  ports?: { c2s?: number | false; c2sDirectTls?: number | false; s2s?: number | false; s2sDirectTls?: number | false };
  ttl?: number;
}

export type DnsStatus = 'green' | 'red' | 'warn';

export interface ResolverOptions {
  /** Name server IPs; default: from /etc/resolv.conf. */
  nameServers?: string[];
  port?: number;
  /** Per query (default 3000 ms). */
  timeoutMs?: number;
  protocol?: 'UDP' | 'TCP';
}

export interface RecordCheck {
  record: RequiredRecord;
  status: DnsStatus;
  /** Plain words: why it's red or warn, or what was found. */
  reason: string;
  /** What the resolver returned, rendered as strings. */
  found: string[];
}

export interface DnsReport {
  checks: RecordCheck[];
  /** No red check among the required records. */
  ok: boolean;
  /** Resolver used, e.g. "127.0.0.1:53". */
  resolver: string;
}

export type DnsRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'SERVFAIL' | 'TIMEOUT' | 'ERROR';

export interface LookupResult {
  rcode: DnsRcode;
  /** Answers of the queried type (after following CNAMEs within the answer). */
  answers: Array<{ type: DnsRecordType | string; value: string; srv?: SrvData; caa?: { flags: number; tag: string; value: string } }>;
  /** CNAME chain met on the way (names the query was aliased to). */
  cnames: string[];
  /** Set for rcode TIMEOUT / ERROR. */
  error?: string;
}

// ---------- ACME ----------

export type AcmeChallengeType = 'http-01' | 'dns-01';

export interface DnsTxtRecord {
  /** `_acme-challenge.<name>` without trailing dot. */
  name: string;
  type: 'TXT';
  value: string;
  /** Ready to paste into a BIND zone. */
  zoneLine: string;
}

export interface AcmeProgress {
  step: 'account' | 'order' | 'challenge' | 'dns-wait' | 'validate' | 'finalize' | 'write' | 'done';
  message: string;
  name?: string;
}

export interface ObtainOptions {
  /** ACME directory; default Let's Encrypt (staging when `staging`). */
  directoryUrl?: string;
  /** PEM CA bundle to trust for the ACME API's own TLS (tests: pebble's listener CA). */
  caBundle?: string | Buffer;
  email: string;
  names: string[];
  challenge: AcmeChallengeType;
  /** HTTP-01: port of the built-in responder (default 80). Ignored when `challengeStore` is given. */
  httpPort?: number;
  /** HTTP-01: address of the built-in responder (default all interfaces). */
  httpAddress?: string;
  /** HTTP-01: use this store (mounted by a running daemon's HTTP listener) instead of our own responder. */
  challengeStore?: ChallengeStore;
  /** DNS-01: shows the TXT record to the admin; `check` resolves true once it's visible (else we poll ourselves). */
  dnsTxt?: {
    show(record: DnsTxtRecord, value: string): void | Promise<void>;
    check?(record: DnsTxtRecord): Promise<boolean>;
    remove?(record: DnsTxtRecord): void | Promise<void>;
  };
  /** DNS-01 built-in visibility check: resolver and how long to wait (default 120 s). */
  dnsResolver?: ResolverOptions;
  dnsWaitMs?: number;
  /** Where the ACME account key lives (created on first use, PEM). */
  accountKeyPath: string;
  /** Directory receiving cert.pem (leaf + chain) and key.pem. */
  outDir: string;
  staging?: boolean;
  onProgress?(p: AcmeProgress): void;
  /** acme-client's own pre-check of challenges over public DNS/port 80 (default false: we check DNS ourselves). */
  verifyChallengesLocally?: boolean;
}

export interface ObtainResult {
  certPath: string;
  keyPath: string;
  names: string[];
  notAfter: Date;
  certPem: string;
}

export interface ChallengeStore {
  set(token: string, keyAuthorization: string): void;
  delete(token: string): void;
  get(token: string): string | undefined;
  /**
   * Node http request handler: answers `/.well-known/acme-challenge/<token>` and returns true,
   * or returns false without touching the response for any other path (so a daemon can mount it first).
   */
  handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): boolean;
}

export interface NameSelection {
  names: string[];
  warnings: string[];
}

export interface RenewResult {
  renewed: boolean;
  /** Plain words: why (not) renewed. */
  reason: string;
  result?: ObtainResult;
  /** Set when renewal was due but failed (the old certificate stays in place). */
  error?: string;
}

/** Last renewal attempt, kept next to the certificate (acme-status.json) for `roost check`. */
export interface RenewalStatus {
  time: string;
  ok: boolean;
  message: string;
  notAfter?: string;
}

// ---------- LDAP ----------

export interface LdapSettings {
  /** ldap://host:389 or ldaps://host:636 */
  url: string;
  startTls?: boolean;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  /** Default: OpenLDAP `(objectClass=inetOrgPerson)`, AD `(&(objectClass=user)(objectCategory=person))`. */
  userFilter?: string;
  /** Group name (cn) or full DN; default `jabberadmins`. */
  adminGroup?: string;
  /** PEM file with the CA that signed the directory's certificate. */
  caFile?: string;
  /** 'auto' (default) detects Active Directory from the root DSE. */
  flavor?: 'auto' | 'openldap' | 'ad';
  timeoutMs?: number;
}

export interface LdapTestResult {
  ok: boolean;
  bindOk: boolean;
  flavor: 'openldap' | 'ad' | 'unknown';
  userCount: number;
  /** Login names (uid / sAMAccountName) of up to 10 users. */
  sampleUsers: string[];
  adminGroupDn?: string;
  /** Login names of the admin group's members (nested groups resolved on AD). */
  adminGroupMembers: string[];
  /** Plain words. */
  errors: string[];
  warnings: string[];
}

// ---------- system ----------

export interface ServiceInstallResult {
  /** systemd runs on this machine (/run/systemd/system exists). */
  systemd: boolean;
  installed: boolean;
  enabled: boolean;
  started: boolean;
  unitPath?: string;
  /** What was done to the running service: reloaded (SIGHUP, sessions kept) or (re)started. */
  action?: 'reloaded' | 'restarted';
  /** Plain-words instructions when we could not start it ourselves. */
  instructions?: string;
}

export interface ReadyResult {
  ok: boolean;
  /** Child element names of <stream:features>, e.g. ['starttls', 'mechanisms']. */
  features: string[];
  ms: number;
  error?: string;
}
