// PLAIN server: RFC 4616 (August 2006), only inside TLS (RFC 6120 §6.4.3 / §13.8).
// https://www.rfc-editor.org/rfc/rfc4616
//
//   message = [authzid] UTF8NUL authcid UTF8NUL passwd
//
// The password is checked against the stored SCRAM-SHA-256 key (PBKDF2 off the event loop);
// an unknown user costs the same PBKDF2 and gets the same answer as a wrong password.
import { authzidAllowed, prepareAuthcid } from './identity.js';
import { DEFAULT_MAX_SASL_MESSAGE, WRONG_CREDENTIALS } from './scram.js';
import type { SaslContext, SaslExchange, SaslMechanism, SaslStep } from './types.js';
import { failure, rateLimited } from './types.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';

  constructor(private readonly opts: { maxMessageSize?: number } = {}) {}

  /** Offered only on encrypted streams; a client that tries it anyway gets encryption-required. */
  available(ctx: SaslContext): boolean {
    return ctx.secure;
  }

  start(ctx: SaslContext): SaslExchange {
    const max = this.opts.maxMessageSize ?? DEFAULT_MAX_SASL_MESSAGE;
    let emptyChallengeSent = false;
    let done = false;
    let busy = false;
    const end = (s: SaslStep): SaslStep => {
      done = true;
      return s;
    };

    return {
      async step(response) {
        if (done) return failure('malformed-request', 'the SASL exchange is already over');
        if (busy) return end(failure('malformed-request', 'a response arrived before the previous one was answered'));
        if (!ctx.secure) return end(failure('encryption-required', 'PLAIN is only allowed on an encrypted stream; use STARTTLS'));
        if (response === undefined) {
          if (emptyChallengeSent) return end(failure('malformed-request', 'credentials expected'));
          emptyChallengeSent = true;
          return { kind: 'challenge', data: Buffer.alloc(0) };
        }
        if (response.length > max) return end(failure('malformed-request', `the PLAIN message is larger than ${max} bytes`));
        const n1 = response.indexOf(0);
        const n2 = n1 < 0 ? -1 : response.indexOf(0, n1 + 1);
        if (n1 < 0 || n2 < 0 || response.indexOf(0, n2 + 1) >= 0) {
          return end(failure('malformed-request', 'PLAIN expects [authzid] NUL authcid NUL password'));
        }
        let authzid: string, authcid: string, password: string;
        try {
          authzid = utf8.decode(response.subarray(0, n1));
          authcid = utf8.decode(response.subarray(n1 + 1, n2));
          password = utf8.decode(response.subarray(n2 + 1));
        } catch {
          return end(failure('malformed-request', 'the PLAIN message is not UTF-8'));
        }
        if (authcid === '' || password === '') return end(failure('malformed-request', 'empty user name or password'));

        const username = prepareAuthcid(authcid);
        if (!authzidAllowed(authzid, username, ctx.host)) {
          return end(failure('invalid-authzid', 'the authorization identity must be your own bare JID or absent', username));
        }
        const account = username !== undefined ? `${username}@${ctx.host}` : authcid;
        const gate = ctx.limiter.check(ctx.address, account);
        if (!gate.allowed) return end(rateLimited(gate.retryAfter, username));
        busy = true;
        let ok: boolean;
        try {
          // An unpreparable name still pays for one PBKDF2 (the accounts treat it as unknown).
          ok = await ctx.accounts.verify(username ?? authcid, password);
        } catch {
          return end(failure('temporary-auth-failure', 'authentication is unavailable right now; try again later', username));
        } finally {
          busy = false;
        }
        if (!ok || username === undefined) {
          ctx.limiter.fail(ctx.address, account);
          return end(failure('not-authorized', WRONG_CREDENTIALS, username));
        }
        ctx.limiter.succeed(ctx.address, account);
        return end({ kind: 'success', username });
      },
    };
  }
}
