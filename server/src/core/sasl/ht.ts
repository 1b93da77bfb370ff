// The Hashed Token SASL mechanisms, draft-schmaus-kitten-sasl-ht-08 (the family XEP-0484 FAST
// uses): HT-SHA-256-NONE, HT-SHA-256-ENDP (tls-server-end-point, RFC 5929 §4) and
// HT-SHA-256-EXPR (tls-exporter, RFC 9266). One round trip:
//   client: authcid NUL HMAC-SHA-256(token, "Initiator" || cb-data)
//   server: success with HMAC-SHA-256(token, "Responder" || cb-data) as additional data
// https://datatracker.ietf.org/doc/draft-schmaus-kitten-sasl-ht/08/
//
// The token itself is checked by a TokenVerifier (sasl/fast-tokens.ts), which knows which
// token the client's user agent holds; this file only does the SASL framing, the channel
// binding and the rate limiter, like the other mechanisms.
import { authzidAllowed, prepareAuthcid } from './identity.js';
import { TLS_EXPORTER, TLS_SERVER_END_POINT } from './channel-binding.js';
import type { SaslContext, SaslExchange, SaslFailureCondition, SaslStep } from './types.js';
import { failure, rateLimited } from './types.js';

/** Mechanism name → the channel binding it uses (undefined: none). */
export const HT_MECHANISMS: Record<string, string | undefined> = {
  'HT-SHA-256-EXPR': TLS_EXPORTER,
  'HT-SHA-256-ENDP': TLS_SERVER_END_POINT,
  'HT-SHA-256-NONE': undefined,
};

export function isHtMechanism(name: string): boolean {
  return Object.hasOwn(HT_MECHANISMS, name);
}

/** The HT mechanisms this connection can do, channel binding first. */
export function htMechanisms(ctx: SaslContext): string[] {
  const types = ctx.channelBindingTypes();
  return Object.entries(HT_MECHANISMS)
    .filter(([, cb]) => cb === undefined || types.includes(cb))
    .map(([name]) => name);
}

export type TokenCheck =
  | { ok: true; responder: Buffer }
  | { ok: false; condition: SaslFailureCondition; text: string };

export interface TokenVerifier {
  /** Checks the client's initiator hash for `username` (prepared localpart). */
  verify(username: string, mechanism: string, initiator: Buffer, cbData: Buffer): Promise<TokenCheck>;
}

const MAX_MESSAGE = 2048;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function htExchange(mechanism: string, ctx: SaslContext, verifier: TokenVerifier): SaslExchange {
  let done = false;
  const end = (s: SaslStep): SaslStep => {
    done = true;
    return s;
  };
  return {
    async step(response) {
      if (done) return failure('malformed-request', 'the SASL exchange is already over');
      // One round trip by design: the token proof must come with the request.
      if (response === undefined || response.length === 0) return end(failure('malformed-request', `${mechanism} needs an initial response`));
      if (response.length > MAX_MESSAGE) return end(failure('malformed-request', `the ${mechanism} message is too large`));
      const nul = response.indexOf(0);
      if (nul <= 0) return end(failure('malformed-request', `${mechanism} expects authcid NUL hash`));
      let authcid: string;
      try {
        authcid = utf8.decode(response.subarray(0, nul));
      } catch {
        return end(failure('malformed-request', 'the user name is not UTF-8'));
      }
      const initiator = response.subarray(nul + 1);
      // An authcid may be written as the bare JID; only one's own is accepted.
      const at = authcid.indexOf('@');
      const local = at > 0 && authzidAllowed(authcid, prepareAuthcid(authcid.slice(0, at)), ctx.host) ? authcid.slice(0, at) : authcid;
      const username = prepareAuthcid(local);
      const account = username !== undefined ? `${username}@${ctx.host}` : authcid;
      const gate = ctx.limiter.check(ctx.address, account);
      if (!gate.allowed) return end(rateLimited(gate.retryAfter, username));
      if (username === undefined) {
        ctx.limiter.fail(ctx.address, account);
        return end(failure('not-authorized', 'Invalid username or token'));
      }
      const cbType = HT_MECHANISMS[mechanism];
      const cb = cbType === undefined ? Buffer.alloc(0) : ctx.channelBinding(cbType);
      if (cb === undefined) return end(failure('malformed-request', `${cbType} channel binding is not available on this connection`, username));
      let check: TokenCheck;
      try {
        check = await verifier.verify(username, mechanism, initiator, cb);
      } catch {
        return end(failure('temporary-auth-failure', 'authentication is unavailable right now; try again later', username));
      }
      if (!check.ok) {
        ctx.limiter.fail(ctx.address, account);
        return end(failure(check.condition, check.text, username));
      }
      ctx.limiter.succeed(ctx.address, account);
      return end({ kind: 'success', username, data: check.responder });
    },
  };
}
