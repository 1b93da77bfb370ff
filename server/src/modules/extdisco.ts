// XEP-0215: External Service Discovery
// https://xmpp.org/extensions/xep-0215.html
// Version 1.0.0 (2022-08-23), urn:xmpp:extdisco:2
//
// Hands the server's STUN/TURN relay (config turn: host, port, tlsPort, secret/secretFile, ttl)
// to its own users, so calls work behind NAT: STUN and TURN over UDP and TCP on turn.port, and
// TURNS over TLS on turn.tlsPort when set. TURN entries carry time-limited credentials in
// coturn's use-auth-secret form (xmpp/xep0215.ts), valid turn.ttl seconds; <credentials/>
// requests get fresh ones for a named service. With turn.enabled false the protocol is still
// answered, with an empty list (so clients know there is nothing, instead of guessing).
// Only accounts of this host get answers: credentials are a key to the relay.
import { readFileSync } from 'node:fs';
import { defineModule, type StanzaEvent } from '../core/module.js';
import { xml } from '../xml/element.js';
import { NS_EXTDISCO, serviceElement, turnCredentials, type ExternalService } from '../xmpp/xep0215.js';

export { NS_EXTDISCO };

/** The services the config describes (empty when TURN is off or incomplete). */
export function configuredServices(turn: { enabled: boolean; host?: string | undefined; port: number; tlsPort: number }): ExternalService[] {
  if (!turn.enabled || turn.host === undefined) return [];
  const h = turn.host;
  const out: ExternalService[] = [
    { type: 'stun', host: h, port: turn.port, transport: 'udp', restricted: false },
    { type: 'stun', host: h, port: turn.port, transport: 'tcp', restricted: false },
    { type: 'turn', host: h, port: turn.port, transport: 'udp', restricted: true },
    { type: 'turn', host: h, port: turn.port, transport: 'tcp', restricted: true },
  ];
  if (turn.tlsPort > 0) out.push({ type: 'turns', host: h, port: turn.tlsPort, transport: 'tcp', restricted: true });
  return out;
}

export default defineModule({
  name: 'extdisco',
  spec: 'XEP-0215: External Service Discovery',
  load(api) {
    const turn = api.config.turn;
    const services = configuredServices(turn);
    let secret = turn.secret;
    if (secret === undefined && turn.secretFile !== undefined && services.length > 0) {
      try {
        secret = readFileSync(turn.secretFile, 'utf8').split(/\r?\n/)[0]!.trim();
      } catch (e) {
        api.log.error('TURN secret file unreadable: TURN credentials are not handed out', { file: turn.secretFile, error: String(e) });
      }
    }
    // Without a secret the relay would refuse every credential: offer STUN only.
    const offered = secret ? services : services.filter((s) => !s.restricted);
    api.disco.addFeature(NS_EXTDISCO);

    const allowed = (event: StanzaEvent): string | undefined =>
      event.origin.kind === 'c2s' && event.from.domain === api.host && event.from.local !== undefined ? event.from.bare : undefined;

    const element = (s: ExternalService, user: string) => serviceElement(s, s.restricted ? turnCredentials(secret!, user, turn.ttl) : undefined);

    const answer = (event: StanzaEvent) => {
      const user = allowed(event);
      if (user === undefined) return api.replyError(event, 'auth', 'forbidden');
      const q = event.stanza.firstElement()!;
      if (q.name === 'services') {
        const type = q.attrs.type;
        const reply = xml('services', { xmlns: NS_EXTDISCO, type });
        for (const s of offered) if (type === undefined || s.type === type) reply.append(element(s, user));
        return api.replyResult(event, reply);
      }
      if (q.name === 'credentials') {
        const want = q.getChild('service');
        if (!want || want.attrs.host === undefined || want.attrs.type === undefined) return api.replyError(event, 'modify', 'bad-request', 'name the service by host and type');
        const port = want.attrs.port === undefined ? undefined : Number(want.attrs.port);
        const matching = offered.filter((s) => s.restricted && s.host === want.attrs.host && s.type === want.attrs.type && (port === undefined || s.port === port));
        if (matching.length === 0) return api.replyError(event, 'cancel', 'item-not-found', 'no such service needs credentials here');
        const reply = xml('credentials', { xmlns: NS_EXTDISCO });
        for (const s of matching) reply.append(element(s, user));
        return api.replyResult(event, reply);
      }
      return api.replyError(event, 'modify', 'bad-request');
    };
    // Clients ask their server's domain; an iq without 'to' is answered the same.
    api.hook('iq-get/host/' + NS_EXTDISCO, answer);
    api.hook('iq-get/self/' + NS_EXTDISCO, answer);
  },
});
