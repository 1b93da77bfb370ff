// XEP-0388: Extensible SASL Profile (version 1.0.4, 2025-08-25), namespace urn:xmpp:sasl:2 —
// the wire format: the <authentication/> stream feature, <authenticate/> with its
// <initial-response/> and <user-agent/>, <challenge/>/<response/>, <abort/>, <success/> with
// <additional-data/> and <authorization-identifier/>, and <failure/>. No stream restart after
// success (§2.6.1). The <continue/> tasks (2FA, password change) are not used by Roost.
// https://xmpp.org/extensions/xep-0388.html
//
// The mechanisms are the SASL1 ones (same list, same order, so a client that pinned a SCRAM
// variant sees it on either profile), plus the XEP-0484 FAST token mechanisms, which are
// offered inside <inline/> and only accepted with a <fast/> element in the request. This file
// parses the request and runs the exchange; what happens after success (resumption, Bind2,
// tokens) is the stream's business (core/c2s.ts), as those elements change the session.
import { escapeText, xml, type Element } from '../xml/element.js';
import type { Accounts } from './accounts.js';
import { MAX_PAYLOAD, type SaslNegotiation } from './sasl-negotiation.js';
import { decodeBase64Strict, encodeSaslData } from './sasl/base64.js';
import { NS_FAST, type FastTokens, type TokenUse } from './sasl/fast-tokens.js';
import { htExchange, htMechanisms, isHtMechanism } from './sasl/ht.js';
import type { SaslExchange, SaslStep } from './sasl/types.js';
import { NS_SASL } from './sasl/types.js';
import type { StreamErrorCondition, UserAgent } from './session.js';

export const NS_SASL2 = 'urn:xmpp:sasl:2';
const NS_SM = 'urn:xmpp:sm:3';
const NS_BIND2 = 'urn:xmpp:bind:0';

/** What the client asked for around authentication. */
export interface Sasl2Request {
  mechanism: string;
  userAgent?: UserAgent;
  /** XEP-0386 <bind xmlns='urn:xmpp:bind:0'/>. */
  bind?: Element;
  /** XEP-0198 inline <resume xmlns='urn:xmpp:sm:3'/>. */
  resume?: Element;
  /** XEP-0484 <request-token mechanism='...'/>: the mechanism. */
  requestToken?: string;
  /** XEP-0484 <fast/>: a token login; `invalidate` asks to void the token afterwards. */
  fast?: { count?: number; invalidate: boolean };
}

export type Sasl2Outcome =
  | { kind: 'continue' }
  | { kind: 'close'; condition: StreamErrorCondition; text?: string }
  | {
      kind: 'success';
      username: string;
      mechanism: string;
      /** The mechanism's final data (SCRAM server-final, HT responder hash). */
      additionalData?: Buffer;
      request: Sasl2Request;
      /** Set when a FAST token was used: which slot. */
      tokenUse?: TokenUse;
    };

/** Longest user-agent id and texts kept (they are the client's to choose). */
const MAX_UA_ID = 128;
const MAX_UA_TEXT = 128;
// Printable text without control characters.
const CONTROL = /[\u0000-\u001f\u007f]/;

function uaText(el: Element | undefined): string | undefined {
  const t = el?.text().trim();
  if (!t) return undefined;
  return t.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, MAX_UA_TEXT);
}

/** XEP-0388 §2.3 user agent, or undefined when absent or unusable (the login still works). */
export function parseUserAgent(el: Element | undefined): UserAgent | undefined {
  if (!el) return undefined;
  const id = el.attrs.id;
  if (id === undefined || id.length === 0 || id.length > MAX_UA_ID || CONTROL.test(id)) return undefined;
  const ua: UserAgent = { id };
  const software = uaText(el.getChild('software'));
  const device = uaText(el.getChild('device'));
  if (software !== undefined) ua.software = software;
  if (device !== undefined) ua.device = device;
  return ua;
}

/**
 * SASL2 data: the element's text is base64 (whitespace ignored); an empty element is an empty
 * string (§2.2: "<element/> is equivalent to <element></element>, these both indicate an
 * empty string"), no element means no data.
 */
function decodeSasl2(el: Element | undefined): { ok: true; data: Buffer | undefined } | { ok: false } {
  if (!el) return { ok: true, data: undefined };
  const t = el.text().replace(/[ \t\r\n]+/g, '');
  if (t === '') return { ok: true, data: Buffer.alloc(0) };
  const data = decodeBase64Strict(t);
  return data ? { ok: true, data } : { ok: false };
}

export function sasl2Failure(condition: string, text?: string): string {
  let s = `<failure xmlns='${NS_SASL2}'><${condition} xmlns='${NS_SASL}'/>`;
  if (text) s += `<text xml:lang='en'>${escapeText(text)}</text>`;
  return s + '</failure>';
}

export interface Sasl2Options {
  /** The stream's host accounts (FAST checks the password fingerprint). */
  accounts: Accounts;
  host: string;
  fast?: FastTokens;
}

export class Sasl2Negotiation {
  private exchange?: SaslExchange;
  private request?: Sasl2Request;
  private tokenUse?: TokenUse;
  private done = false;

  constructor(
    private readonly base: SaslNegotiation,
    private readonly opts: Sasl2Options,
  ) {}

  private fastMechanisms(): string[] {
    return this.opts.fast?.enabled ? htMechanisms(this.base.ctx) : [];
  }

  /**
   * The <authentication/> feature: the password mechanisms, then <inline/> with what the
   * stream offers inline (`inline`: Bind2's <bind/>, <sm/>) and FAST.
   */
  features(inline: Element[]): Element[] {
    const auth = xml('authentication', { xmlns: NS_SASL2 }, ...this.base.available().map((m) => xml('mechanism', {}, m.name)));
    const children = [...inline];
    const fast = this.fastMechanisms();
    if (fast.length) children.push(xml('fast', { xmlns: NS_FAST }, ...fast.map((m) => xml('mechanism', {}, m))));
    if (children.length) auth.append(xml('inline', {}, ...children));
    // XEP-0440's channel-binding types are in the features once, next to SASL1's mechanisms.
    return [auth];
  }

  /** Handles one element of the SASL2 namespace; `write` sends raw XML to the client. */
  async handle(el: Element, write: (xml: string) => void): Promise<Sasl2Outcome> {
    if (this.done) return { kind: 'close', condition: 'policy-violation', text: 'already authenticated' };
    if (el.name === 'authenticate') {
      this.exchange = undefined;
      this.tokenUse = undefined;
      const parsed = this.parse(el);
      if (typeof parsed === 'string') return this.fail(write, { kind: 'failure', condition: 'invalid-mechanism', text: parsed });
      this.request = parsed;
      let exchange: SaslExchange | undefined;
      if (isHtMechanism(parsed.mechanism)) {
        const fast = this.opts.fast;
        if (!fast || !parsed.fast || !this.fastMechanisms().includes(parsed.mechanism)) {
          return this.fail(write, { kind: 'failure', condition: 'invalid-mechanism', text: `${parsed.mechanism} is only for FAST token logins (with <fast/>)` });
        }
        if (!parsed.userAgent) return this.fail(write, { kind: 'failure', condition: 'malformed-request', text: 'a FAST login needs a <user-agent id=.../>' });
        const verifier = fast.verifier(this.opts.host, parsed.userAgent.id, this.opts.accounts, parsed.fast.count, (u) => (this.tokenUse = u));
        exchange = htExchange(parsed.mechanism, this.base.ctx, verifier);
      } else {
        const mech = this.base.available().find((m) => m.name === parsed.mechanism);
        if (!mech) return this.fail(write, { kind: 'failure', condition: 'invalid-mechanism', text: 'that mechanism is not offered here' });
        exchange = mech.start(this.base.ctx);
      }
      this.exchange = exchange;
      const decoded = decodeSasl2(el.getChild('initial-response'));
      if (!decoded.ok) return this.fail(write, { kind: 'failure', condition: 'incorrect-encoding' });
      return this.run(decoded.data, write);
    }
    if (el.name === 'response') {
      if (!this.exchange) return this.fail(write, { kind: 'failure', condition: 'malformed-request', text: 'no authentication in progress' });
      const decoded = decodeSasl2(el);
      if (!decoded.ok || decoded.data === undefined) return this.fail(write, { kind: 'failure', condition: 'incorrect-encoding' });
      return this.run(decoded.data, write);
    }
    if (el.name === 'abort') {
      this.exchange = undefined;
      return this.fail(write, { kind: 'failure', condition: 'aborted' });
    }
    return { kind: 'close', condition: 'unsupported-stanza-type', text: `<${el.name}/> is not part of SASL2` };
  }

  /** The request, or the reason it cannot be served. */
  private parse(el: Element): Sasl2Request | string {
    const mechanism = el.attrs.mechanism;
    if (!mechanism) return 'the mechanism attribute is missing';
    // Version 0.4's upgrade tasks: none are announced, so any request for one must fail (§2.3).
    if (el.attrs.upgrade !== undefined) return 'no upgrade tasks are offered';
    const req: Sasl2Request = { mechanism };
    const ua = parseUserAgent(el.getChild('user-agent'));
    if (ua) req.userAgent = ua;
    const bind = el.getChild('bind', NS_BIND2);
    if (bind) req.bind = bind;
    const resume = el.getChild('resume', NS_SM);
    if (resume) req.resume = resume;
    const rt = el.getChild('request-token', NS_FAST);
    if (rt?.attrs.mechanism && this.fastMechanisms().includes(rt.attrs.mechanism)) req.requestToken = rt.attrs.mechanism;
    const fast = el.getChild('fast', NS_FAST);
    if (fast) {
      const c = fast.attrs.count;
      const count = c !== undefined && /^\d{1,15}$/.test(c) ? Number(c) : undefined;
      const inv = fast.attrs.invalidate;
      req.fast = { invalidate: inv === 'true' || inv === '1', ...(count !== undefined ? { count } : {}) };
    }
    return req;
  }

  private async run(data: Buffer | undefined, write: (xml: string) => void): Promise<Sasl2Outcome> {
    if (data && data.length > MAX_PAYLOAD) return this.fail(write, { kind: 'failure', condition: 'malformed-request', text: 'too large' });
    const step = await this.exchange!.step(data);
    if (step.kind === 'challenge') {
      write(`<challenge xmlns='${NS_SASL2}'>${step.data.length ? encodeSaslData(step.data) : ''}</challenge>`);
      return { kind: 'continue' };
    }
    if (step.kind === 'success') {
      this.exchange = undefined;
      this.done = true;
      const out: Sasl2Outcome = { kind: 'success', username: step.username, mechanism: this.request!.mechanism, request: this.request! };
      if (step.data) out.additionalData = step.data;
      if (this.tokenUse) out.tokenUse = this.tokenUse;
      return out;
    }
    return this.fail(write, step);
  }

  private fail(write: (xml: string) => void, step: Extract<SaslStep, { kind: 'failure' }>): Sasl2Outcome {
    this.exchange = undefined;
    write(sasl2Failure(step.condition, step.text));
    const r = this.base.counted(step, this.request?.mechanism);
    return r.kind === 'close' ? { kind: 'close', condition: r.condition, text: r.text } : { kind: 'continue' };
  }
}

/** The <success/> element; the stream adds what resumption, Bind2 and FAST produced. */
export function sasl2Success(additionalData: Buffer | undefined, authzid: string, extra: Element[]): Element {
  return xml(
    'success',
    { xmlns: NS_SASL2 },
    additionalData ? xml('additional-data', {}, additionalData.length ? additionalData.toString('base64') : '') : undefined,
    xml('authorization-identifier', {}, authzid),
    ...extra,
  );
}
