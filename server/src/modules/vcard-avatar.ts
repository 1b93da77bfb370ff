// XEP-0153: vCard-Based Avatars — the server side XEP-0398 §4 asks for
// https://xmpp.org/extensions/xep-0153.html — Version 1.1.1 (2024-06-10)
// https://xmpp.org/extensions/xep-0398.html §4 "Presence Broadcast" — Version 1.0.0 (2024-05-06)
//
// The server puts <x xmlns='vcard-temp:x:update'><photo>hash</photo></x> into every available
// presence a user sends, broadcast or directed (MUC joins), from the vCard it stores, so a
// client never has to download its own vCard to compute the hash:
//   - no <x/>, or an <x/> without <photo/>: the server's hash is filled in (empty <photo/> when
//     the vCard has no photo: "no avatar");
//   - <photo/> empty: left alone (the client says it has no avatar, or is not ready);
//   - <photo>other</photo>: replaced by the server's hash when the server has one (XEP-0398
//     allows it; the stored vCard is the truth), else left alone.
// When the vCard's photo changes (the vcard module fires `vcard-updated`, and so does avatar
// conversion), each available resource's presence is sent again with the new hash, so contacts
// see the new avatar without the client doing anything.
import { defineModule, type StanzaEvent } from '../core/module.js';
import type { Session } from '../core/session.js';
import { Element, xml } from '../xml/element.js';
import { elementFromJson } from '../xmpp/stored.js';
import { NS_VCARD_UPDATE, vcardPhoto } from '../xmpp/xep0084.js';

/** Event of `vcard-updated` (fired by the vcard module and by avatar conversion). */
export interface VcardUpdatedEvent {
  username: string;
  vcard: Element;
  /** Set by a module writing the vCard itself (avatar conversion), so it can skip its own change. */
  source?: string;
}

const INJECTED = 'vcard-avatar.injected';
/** Presence the module re-sends itself: its photo is the server's to set, whatever it holds. */
const resent = new WeakSet<Element>();

export default defineModule({
  name: 'vcard-avatar',
  spec: 'XEP-0153: vCard-Based Avatars (server-side hash, XEP-0398 §4)',
  load(api) {
    // Without vCards there is no hash to give, and an empty <photo/> would claim "no avatar".
    if ((api.config.modules?.disabled ?? []).includes('vcard')) return;
    const store = api.keyval('vcard');
    /** username → hash of the stored photo ('' when none), for accounts seen since start. */
    const hashes = new Map<string, string>();
    const maxCached = 100_000;

    const hashOf = async (username: string): Promise<string> => {
      const hit = hashes.get(username);
      if (hit !== undefined) return hit;
      const card = elementFromJson(await store.get(`${username}@${api.host}`, 'vcard'));
      const h = vcardPhoto(card)?.hash ?? '';
      hashes.set(username, h);
      if (hashes.size > maxCached) hashes.delete(hashes.keys().next().value!);
      return h;
    };

    /** Puts the hash into an available presence, in place (see the rules above). */
    const inject = async (session: Session, stanza: Element) => {
      const username = session.username;
      if (username === undefined) return;
      const hash = await hashOf(username);
      const injectedBefore = session.data.get(INJECTED) as string | undefined;
      let x = stanza.getChild('x', NS_VCARD_UPDATE);
      const photo = x?.getChild('photo');
      if (photo && !resent.has(stanza)) {
        const current = photo.text().trim();
        if (current === '') return;
        // Ours from before (a re-sent presence), or a different hash while we know better.
        if (current === hash || (hash === '' && current !== injectedBefore)) return;
      }
      if (!x) stanza.append((x = xml('x', { xmlns: NS_VCARD_UPDATE })));
      x.removeChildren('photo');
      x.append(hash === '' ? xml('photo') : xml('photo', {}, hash));
      session.data.set(INJECTED, hash);
    };

    api.hook(
      'presence/broadcast',
      async (event: StanzaEvent) => {
        if (event.stanza.attrs.type === undefined && event.origin.kind === 'c2s') await inject(event.origin, event.stanza);
        return false;
      },
      20,
    );

    // XEP-0398 §4: directed presence (MUC joins) carries it too.
    api.hook(
      'pre-presence/out',
      async (event: StanzaEvent) => {
        if (event.stanza.attrs.type === undefined && event.stanza.attrs.to !== undefined && event.origin.kind === 'c2s') {
          await inject(event.origin, event.stanza);
        }
        return false;
      },
      20,
    );

    api.hook<VcardUpdatedEvent>('vcard-updated', async ({ username, vcard }) => {
      const now = vcardPhoto(vcard.elements().length === 0 ? undefined : vcard)?.hash ?? '';
      hashes.set(username, now);
      // Each available resource whose presence carries another hash says it again (the
      // presence/broadcast hook above rewrites the hash it put there before).
      for (const s of api.sessions.availableSessionsOf(username)) {
        if (!s.presence || !s.jid || s.data.get(INJECTED) === now) continue;
        const p = s.presence.clone();
        delete p.attrs.to;
        p.attrs.from = s.jid.full;
        resent.add(p);
        api.route(p, s);
      }
    });

    api.hook<{ username: string }>('account-deleted', ({ username }) => {
      hashes.delete(username);
    });
  },
});
