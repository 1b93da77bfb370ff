// RFC 6121: XMPP Instant Messaging and Presence — §5 Exchanging Messages, §8.5 Server Rules for
// Processing XML Stanzas (message delivery to local accounts)
// https://www.rfc-editor.org/rfc/rfc6121 (March 2011)
//
// To a bare JID (§8.5.2): chat/normal go to the available resource(s) with the highest
// non-negative priority (all of them when tied, as Prosody does); with none, they are handed to
// the `message/offline/handle` hook (the offline module stores them) or, if nobody stores them,
// answered with service-unavailable. headline goes to every non-negative resource or is dropped;
// groupchat is answered service-unavailable; error is dropped.
// To a full JID (§8.5.3): the connected resource gets any type; if it is gone, chat and normal
// are treated as sent to the bare JID, groupchat gets service-unavailable, headline/error dropped.
// Unknown account (§8.5.1 allows silence or service-unavailable): exactly what an existing
// account that is offline would show the sender, so that nobody can learn which accounts exist
// (directory harvesting, RFC 6120 §13.11): chat/normal vanish silently (for an existing account
// they are stored, which the sender cannot see either), groupchat gets service-unavailable,
// headline and error are dropped.
import { defineModule, type StanzaEvent } from '../core/module.js';
import type { Session } from '../core/session.js';

/** Event of `message/offline/handle`: return true once the message is stored (or deliberately dropped). */
export interface OfflineHandleEvent extends StanzaEvent {
  username: string;
}

export default defineModule({
  name: 'messages',
  spec: 'RFC 6121 §5 and §8.5: message delivery',
  load(api) {
    const nonNegative = (username: string): Session[] =>
      api.sessions
        .sessionsOf(username)
        .filter((s) => s.presence !== undefined && s.jid !== undefined && s.priority >= 0);

    const typeOf = (event: StanzaEvent): string => {
      const t = event.stanza.attrs.type;
      // §5.2.2: an absent or unknown type is "normal".
      return t === 'chat' || t === 'groupchat' || t === 'headline' || t === 'error' ? t : 'normal';
    };

    const toBare = async (event: StanzaEvent, username: string): Promise<true> => {
      const type = typeOf(event);
      if (type === 'error') return true;
      if (type === 'groupchat') return api.replyError(event, 'cancel', 'service-unavailable');
      if (api.sessions.sessionsOf(username).length === 0 && !(await api.userExists(username))) {
        api.log.debug('message to an unknown account dropped', { to: event.to.bare });
        return true;
      }
      if (type === 'groupchat') return api.replyError(event, 'cancel', 'service-unavailable');
      const targets = nonNegative(username);
      if (type === 'headline') {
        for (const s of targets) s.send(event.stanza.clone());
        return true;
      }
      if (targets.length > 0) {
        const top = Math.max(...targets.map((s) => s.priority));
        for (const s of targets) if (s.priority === top) s.send(event.stanza.clone());
        return true;
      }
      const ev: OfflineHandleEvent = { ...event, username };
      if (await api.hooks.fireAsync('message/offline/handle', ev)) return true;
      return api.replyError(event, 'cancel', 'service-unavailable');
    };

    api.hook(
      'message/bare',
      (event) => {
        const username = event.to.local;
        if (username === undefined) return false;
        return toBare(event, username);
      },
      -1,
    );

    api.hook(
      'message/full',
      (event) => {
        const username = event.to.local;
        const resource = event.to.resource;
        if (username === undefined || resource === undefined) return false;
        const s = api.sessions.get(username, resource);
        if (s) {
          s.send(event.stanza.clone());
          return true;
        }
        const type = typeOf(event);
        if (type === 'chat' || type === 'normal') return toBare(event, username);
        if (type === 'groupchat') return api.replyError(event, 'cancel', 'service-unavailable');
        return true;
      },
      -1,
    );
  },
});
