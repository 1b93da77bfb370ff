// XEP-0115: Entity Capabilities — the receiving side (§5.4 processing, §6.3 caching)
// https://xmpp.org/extensions/xep-0115.html — Version 1.6.0 (2020-06-10)
//
// PEP filters notifications by what each client says it wants (XEP-0163 §4.2): a client lists
// `<node>+notify` features in the disco#info its caps `ver` stands for. The server learns a
// `ver` once: it asks the first entity that announces it (disco#info to node#ver), recomputes
// the verification string with the announced hash, and caches the features by hash+ver (in
// memory, bounded, and in keyval 'caps' so a restart does not re-ask every client). An answer
// whose hash does not match, or a legacy <c/> without 'hash', is believed for that JID only
// (§5.4 step 8: never cached by ver, since anyone could poison the cache for other clients).
import { createHash } from 'node:crypto';
import type { ModuleApi } from '../../core/module.js';
import { Element, xml } from '../../xml/element.js';
import { NS_CAPS } from '../../xmpp/xep0115.js';
import { NS_DISCO_INFO } from '../../xmpp/xep0030.js';
import { NS_DATA } from '../dataforms.js';
import { capsVerificationString } from '../disco.js';

export interface Caps {
  node: string;
  ver: string;
  /** IANA hash name (sha-1...); undefined for pre-1.5 legacy caps. */
  hash?: string;
}

/** Hash names XEP-0115 can use, mapped to node:crypto's names. MD5 is not trusted to verify. */
const HASHES: Record<string, string> = { 'sha-1': 'sha1', 'sha-224': 'sha224', 'sha-256': 'sha256', 'sha-384': 'sha384', 'sha-512': 'sha512' };

const MAX_VER = 256;
const MAX_NODE = 1024;

/** The <c/> of a presence stanza, when present and sane. */
export function capsOf(presence: Element): Caps | undefined {
  const c = presence.getChild('c', NS_CAPS);
  if (!c) return undefined;
  const { node, ver, hash } = c.attrs;
  if (!node || !ver || ver.length > MAX_VER || node.length > MAX_NODE) return undefined;
  return hash ? { node, ver, hash: hash.toLowerCase() } : { node, ver };
}

export interface CapsOptions {
  /** Verified ver strings kept in memory. */
  cacheSize: number;
  /** How long a disco#info query may take. */
  timeoutMs: number;
  /** Most features believed from one answer. */
  maxFeatures: number;
}

/**
 * Checks a disco#info answer against the announced ver (§5.4 steps 3-7). Returns the features
 * when the hash matches; undefined when it does not or cannot be checked.
 */
export function verifyCaps(query: Element, caps: Caps): string[] | undefined {
  const algo = caps.hash !== undefined ? HASHES[caps.hash] : undefined;
  if (!algo) return undefined;
  const identities = query.getChildren('identity').map((i) => ({
    category: i.attrs.category ?? '',
    type: i.attrs.type ?? '',
    lang: i.attrs['xml:lang'],
    name: i.attrs.name,
  }));
  const features = featuresIn(query);
  const forms = query.getChildren('x', NS_DATA);
  // §5.4 step 3.3-3.6: duplicates make the answer unverifiable.
  const idKeys = identities.map((i) => `${i.category}/${i.type}/${i.lang ?? ''}/${i.name ?? ''}`);
  if (new Set(idKeys).size !== idKeys.length) return undefined;
  if (new Set(features).size !== features.length) return undefined;
  const types = forms.map((f) => f.getChildren('field').find((x) => x.attrs.var === 'FORM_TYPE')?.getChildText('value'));
  const typed = types.filter((t): t is string => t !== undefined);
  if (new Set(typed).size !== typed.length) return undefined;
  const s = capsVerificationString(identities, features, forms);
  const digest = createHash(algo).update(s, 'utf8').digest('base64');
  return digest === caps.ver ? features : undefined;
}

function featuresIn(query: Element): string[] {
  return query
    .getChildren('feature')
    .map((f) => f.attrs.var)
    .filter((v): v is string => typeof v === 'string' && v.length > 0);
}

export class CapsCache {
  /** hash+ver → features (verified), most recently used last. */
  private readonly verified = new Map<string, Set<string>>();
  /** jid → { key, features }: answers believed for one entity only. */
  private readonly perJid = new Map<string, { key: string; features: Set<string> }>();
  private readonly inflight = new Map<string, Promise<Set<string> | undefined>>();
  /** jid+key → time of a failed query, so a silent client is not asked on every presence. */
  private readonly failed = new Map<string, number>();
  private readonly store;

  constructor(
    private readonly api: ModuleApi,
    private readonly opts: CapsOptions,
  ) {
    this.store = api.keyval('caps');
  }

  private static key(c: Caps): string {
    return `${c.hash ?? 'legacy'} ${c.node}#${c.ver}`;
  }

  /** Features known for this entity's caps, or undefined when not (yet) known. */
  known(jid: string, caps: Caps | undefined): Set<string> | undefined {
    if (!caps) return undefined;
    const key = CapsCache.key(caps);
    const v = this.verified.get(key);
    if (v) {
      this.verified.delete(key);
      this.verified.set(key, v);
      return v;
    }
    const p = this.perJid.get(jid);
    return p && p.key === key ? p.features : undefined;
  }

  /** Forgets what was believed for one entity (it went offline). */
  forget(jid: string): void {
    this.perJid.delete(jid);
  }

  /** Resolves with the features once known; undefined when the entity would not say. */
  learn(jid: string, caps: Caps): Promise<Set<string> | undefined> {
    const have = this.known(jid, caps);
    if (have) return Promise.resolve(have);
    const key = CapsCache.key(caps);
    const flightKey = caps.hash && HASHES[caps.hash] ? key : `${jid} ${key}`;
    const running = this.inflight.get(flightKey);
    if (running) return running.then((f) => f ?? this.known(jid, caps));
    const failedAt = this.failed.get(`${jid} ${key}`);
    if (failedAt !== undefined && Date.now() - failedAt < 60_000) return Promise.resolve(undefined);
    const p = this.fetch(jid, caps, key).finally(() => this.inflight.delete(flightKey));
    this.inflight.set(flightKey, p);
    return p;
  }

  private async fetch(jid: string, caps: Caps, key: string): Promise<Set<string> | undefined> {
    const verifiable = caps.hash !== undefined && HASHES[caps.hash] !== undefined;
    if (verifiable) {
      const stored = await this.store.get(this.api.host, key).catch(() => undefined);
      if (Array.isArray(stored)) {
        const features = new Set(stored.filter((f): f is string => typeof f === 'string'));
        this.remember(key, features);
        return features;
      }
    }
    let answer: Element;
    try {
      answer = await this.api.request(
        xml('iq', { type: 'get', to: jid }, xml('query', { xmlns: NS_DISCO_INFO, node: `${caps.node}#${caps.ver}` })),
        this.opts.timeoutMs,
      );
    } catch {
      this.noteFailure(jid, key);
      return undefined;
    }
    const query = answer.attrs.type === 'result' ? answer.getChild('query', NS_DISCO_INFO) : undefined;
    if (!query) {
      this.noteFailure(jid, key);
      return undefined;
    }
    const features = verifyCaps(query, caps);
    if (features && features.length <= this.opts.maxFeatures) {
      const set = new Set(features);
      this.remember(key, set);
      await this.store.set(this.api.host, key, features).catch((e) => this.api.log.warn('caps not stored', { error: String(e) }));
      return set;
    }
    // Unverifiable (legacy caps, or a hash that does not match): true for this JID at most.
    if (verifiable) this.api.log.debug('caps hash mismatch', { jid, ver: caps.ver });
    const own = new Set(featuresIn(query).slice(0, this.opts.maxFeatures));
    this.perJid.set(jid, { key, features: own });
    return own;
  }

  private remember(key: string, features: Set<string>): void {
    this.verified.set(key, features);
    while (this.verified.size > this.opts.cacheSize) this.verified.delete(this.verified.keys().next().value!);
  }

  private noteFailure(jid: string, key: string): void {
    this.failed.set(`${jid} ${key}`, Date.now());
    if (this.failed.size > 10_000) {
      const cutoff = Date.now() - 60_000;
      for (const [k, t] of this.failed) if (t < cutoff) this.failed.delete(k);
    }
  }
}
