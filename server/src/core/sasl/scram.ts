// SCRAM server: RFC 5802 (July 2010) SCRAM-SHA-1(-PLUS), RFC 7677 (November 2015)
// SCRAM-SHA-256(-PLUS), SCRAM-SHA-512(-PLUS) (same construction, IANA-registered name);
// channel bindings tls-server-end-point (RFC 5929 §4) and tls-exporter (RFC 9266).
// https://www.rfc-editor.org/rfc/rfc5802  https://www.rfc-editor.org/rfc/rfc7677
//
// Decisions beyond the RFC text:
// - An unknown (or unpreparable) user gets a decoy salt stable per name and fails at the proof
//   with the same condition and text as a wrong password, after the same work: no account
//   enumeration through SCRAM.
// - The rate limiter is consulted before credentials are looked up and again before the proof
//   is checked (another exchange may have failed meanwhile); when it refuses, the proof is not
//   looked at, so a brute-force client gets no oracle.
// - Server-error values of RFC 5802 §7 are reported as the RFC 6120 condition plus the value in
//   the text, since an XMPP <failure/> carries no additional data.
import { randomBytes } from 'node:crypto';
import type { ScramCredentials, ScramHash } from '../accounts.js';
import { decodeBase64Strict } from './base64.js';
import { authzidAllowed, prepareAuthcid } from './identity.js';
import { decoyCredentials, hmac, verifyClientProof } from './scram-crypto.js';
import { parseClientFinal, parseClientFirst, type ClientFirst, type ScramSyntaxError } from './scram-messages.js';
import type { SaslContext, SaslExchange, SaslFailureCondition, SaslMechanism, SaslStep } from './types.js';
import { failure, rateLimited } from './types.js';

export interface ScramOptions {
  /** Server nonce part (printable ASCII without ','). Injectable for the RFC test vectors. */
  nonce?: () => string;
  /** Largest client message in bytes (default 4096). */
  maxMessageSize?: number;
  /** Secret for decoy salts when the account backend has no decoyScram(). */
  decoySecret?: Buffer;
}

export const DEFAULT_MAX_SASL_MESSAGE = 4096;
export const WRONG_CREDENTIALS = 'Invalid username or password';

// Accounts backends without decoyScram(): a per-process secret (stable until restart).
const processSecret = randomBytes(32);

function defaultNonce(): string {
  return randomBytes(18).toString('base64'); // base64 never contains ','
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(data: Buffer): string | undefined {
  try {
    return utf8.decode(data);
  } catch {
    return undefined;
  }
}

function syntaxFailure(e: ScramSyntaxError): SaslStep {
  switch (e) {
    case 'extensions-not-supported':
      return failure('malformed-request', 'extensions-not-supported: mandatory SCRAM extensions (m=) are not supported');
    case 'invalid-username-encoding':
      return failure('malformed-request', 'invalid-username-encoding: bad saslname escape');
    case 'invalid-encoding':
      return failure('malformed-request', 'invalid-encoding');
    default:
      return failure('malformed-request', 'the SCRAM message does not follow RFC 5802');
  }
}

export class ScramMechanism implements SaslMechanism {
  readonly name: string;

  constructor(
    readonly hash: ScramHash,
    readonly plus: boolean,
    private readonly opts: ScramOptions = {},
  ) {
    this.name = `SCRAM-${hash}${plus ? '-PLUS' : ''}`;
  }

  available(ctx: SaslContext): boolean {
    return !this.plus || ctx.channelBindingTypes().length > 0;
  }

  start(ctx: SaslContext): SaslExchange {
    return new ScramExchange(this, ctx, this.opts);
  }
}

type State = 'first' | 'final' | 'done';

class ScramExchange implements SaslExchange {
  private state: State = 'first';
  private busy = false;
  private emptyChallengeSent = false;
  private first?: ClientFirst;
  private username?: string; // prepared localpart; undefined when unpreparable
  private account = ''; // limiter key (bare JID, or the raw name for unpreparable ones)
  private cred?: ScramCredentials;
  private decoy = false;
  private serverFirst = '';
  private fullNonce = '';
  private readonly max: number;

  constructor(
    private readonly mech: ScramMechanism,
    private readonly ctx: SaslContext,
    private readonly opts: ScramOptions,
  ) {
    this.max = opts.maxMessageSize ?? DEFAULT_MAX_SASL_MESSAGE;
  }

  async step(response: Buffer | undefined): Promise<SaslStep> {
    if (this.busy) return this.end(failure('malformed-request', 'a response arrived before the previous one was answered'));
    this.busy = true;
    try {
      if (this.state === 'first') return await this.onFirst(response);
      if (this.state === 'final') return await this.onFinal(response);
      return failure('malformed-request', 'the SASL exchange is already over');
    } catch {
      // Storage down, or anything unexpected: never a crash, never a hint.
      return this.end(failure('temporary-auth-failure', 'authentication is unavailable right now; try again later'));
    } finally {
      this.busy = false;
    }
  }

  private end(step: SaslStep): SaslStep {
    this.state = 'done';
    return step;
  }

  private fail(condition: SaslFailureCondition, text: string): SaslStep {
    return this.end(failure(condition, text, this.username));
  }

  private async onFirst(response: Buffer | undefined): Promise<SaslStep> {
    const ctx = this.ctx;
    if (response === undefined) {
      // RFC 6120 §6.4.2: no initial response, so an empty challenge asks for it; only once.
      if (this.emptyChallengeSent) return this.fail('malformed-request', 'client-first-message expected');
      this.emptyChallengeSent = true;
      return { kind: 'challenge', data: Buffer.alloc(0) };
    }
    if (response.length === 0) return this.fail('malformed-request', 'client-first-message is empty');
    if (response.length > this.max) return this.fail('malformed-request', `client-first-message is larger than ${this.max} bytes`);
    const text = decodeUtf8(response);
    if (text === undefined) return this.fail('malformed-request', 'client-first-message is not UTF-8');
    const first = parseClientFirst(text);
    if (typeof first === 'string') return this.end(syntaxFailure(first));
    this.first = first;

    // Channel-binding flag against the mechanism and this connection (RFC 5802 §6).
    const cb = first.cbind;
    if (this.mech.plus && cb.flag !== 'p') return this.fail('malformed-request', `${this.mech.name} requires channel binding (p=)`);
    if (!this.mech.plus && cb.flag === 'p') return this.fail('malformed-request', `channel binding needs ${this.mech.name}-PLUS`);
    if (cb.flag === 'y' && ctx.channelBindingTypes().length > 0) {
      // The client supports channel binding and believes we do not: the mechanism list was
      // tampered with (downgrade). RFC 5802 §6 requires failing.
      return this.fail('not-authorized', 'server-does-support-channel-binding: channel binding is offered on this connection');
    }
    if (cb.flag === 'p' && (!ctx.channelBindingTypes().includes(cb.type) || ctx.channelBinding(cb.type) === undefined)) {
      return this.fail('malformed-request', `unsupported-channel-binding-type: ${cb.type} (offered: ${ctx.channelBindingTypes().join(', ') || 'none'})`);
    }

    this.username = prepareAuthcid(first.username);
    if (!authzidAllowed(first.authzid, this.username, ctx.host)) {
      return this.fail('invalid-authzid', 'the authorization identity must be your own bare JID or absent');
    }
    this.account = this.username !== undefined ? `${this.username}@${ctx.host}` : first.username;

    const gate = ctx.limiter.check(ctx.address, this.account);
    if (!gate.allowed) return this.end(rateLimited(gate.retryAfter, this.username));

    const real = this.username !== undefined ? await ctx.accounts.scram(this.username, this.mech.hash) : undefined;
    if (real) this.cred = real;
    else {
      this.decoy = true;
      this.cred = ctx.accounts.decoyScram
        ? await ctx.accounts.decoyScram(this.username ?? first.username, this.mech.hash)
        : decoyCredentials(this.opts.decoySecret ?? processSecret, this.username ?? first.username, this.mech.hash, 4096);
    }

    const snonce = (this.opts.nonce ?? defaultNonce)();
    this.fullNonce = first.nonce + snonce;
    this.serverFirst = `r=${this.fullNonce},s=${this.cred.salt},i=${this.cred.iterations}`;
    this.state = 'final';
    return { kind: 'challenge', data: Buffer.from(this.serverFirst, 'utf8') };
  }

  private async onFinal(response: Buffer | undefined): Promise<SaslStep> {
    const ctx = this.ctx;
    const first = this.first!;
    if (response === undefined || response.length === 0) return this.fail('malformed-request', 'client-final-message expected');
    if (response.length > this.max) return this.fail('malformed-request', `client-final-message is larger than ${this.max} bytes`);
    const text = decodeUtf8(response);
    if (text === undefined) return this.fail('malformed-request', 'client-final-message is not UTF-8');
    const fin = parseClientFinal(text);
    if (typeof fin === 'string') return this.end(syntaxFailure(fin));
    const cbData = decodeBase64Strict(fin.channelBinding);
    const proof = decodeBase64Strict(fin.proof);
    if (!cbData || !proof) return this.fail('incorrect-encoding', 'c= or p= is not valid base64');
    if (fin.nonce !== this.fullNonce) return this.fail('malformed-request', 'the nonce does not match the one of this exchange');

    // c= carries gs2-header + channel-binding data (RFC 5802 §7, cbind-input).
    const cbind = first.cbind.flag === 'p' ? ctx.channelBinding(first.cbind.type) : undefined;
    if (first.cbind.flag === 'p' && cbind === undefined) return this.fail('malformed-request', 'channel binding is no longer available');
    const expected = Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), cbind ?? Buffer.alloc(0)]);
    const bindingOk = expected.length === cbData.length && expected.equals(cbData);

    const gate = ctx.limiter.check(ctx.address, this.account);
    if (!gate.allowed) return this.end(rateLimited(gate.retryAfter, this.username));

    const cred = this.cred!;
    const authMessage = Buffer.from(`${first.bare},${this.serverFirst},${fin.withoutProof}`, 'utf8');
    const proofOk = verifyClientProof(this.mech.hash, Buffer.from(cred.storedKey, 'base64'), authMessage, proof);

    if (!bindingOk) {
      ctx.limiter.fail(ctx.address, this.account);
      return this.fail('not-authorized', 'channel-bindings-dont-match: the channel binding data differs from this connection');
    }
    if (!proofOk || this.decoy || this.username === undefined) {
      ctx.limiter.fail(ctx.address, this.account);
      return this.fail('not-authorized', WRONG_CREDENTIALS);
    }
    ctx.limiter.succeed(ctx.address, this.account);
    const signature = hmac(this.mech.hash, Buffer.from(cred.serverKey, 'base64'), authMessage);
    this.state = 'done';
    return { kind: 'success', username: this.username, data: Buffer.from(`v=${signature.toString('base64')}`, 'utf8') };
  }
}
