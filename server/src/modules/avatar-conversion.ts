// XEP-0398: User Avatar to vCard-Based Avatars Conversion
// https://xmpp.org/extensions/xep-0398.html — Version 1.0.0 (2024-05-06)
// over XEP-0084: User Avatar — https://xmpp.org/extensions/xep-0084.html — Version 1.1.4
//
// §3.1 PEP to vCard: a metadata publication (urn:xmpp:avatar:metadata) names the image by the
// hex SHA-1 of its bytes; the <info/> without a url is looked up in urn:xmpp:avatar:data, its
// hash checked, and stored as the vCard PHOTO (TYPE + BINVAL). An empty <metadata/> ("avatar
// disabled") removes the PHOTO. §3.2 vCard to PEP: a vCard set with an embedded photo publishes
// the data item, then a metadata item with one <info/>, both with the SHA-1 as id (skipped when
// the metadata already names that image); a vCard without a photo disables the PEP avatar.
// Each side then fires its own notifications (PEP) or `vcard-updated` (vcard-avatar re-sends
// presence with the new XEP-0153 hash).
//
// Settings (modules.avatar-conversion):
//   accessModel  open   access model of avatar nodes this conversion creates (a vCard is
//                       public anyway; 'presence' keeps PEP copies to contacts)
import { z } from 'zod';
import { defineModule } from '../core/module.js';
import { Element, xml } from '../xml/element.js';
import { elementFromJson, elementToJson, xmlSize } from '../xmpp/stored.js';
import {
  NS_AVATAR_DATA,
  NS_AVATAR_METADATA,
  NS_PEP_VCARD_CONVERSION,
  decodeBase64,
  sha1Hex,
  vcardPhoto,
} from '../xmpp/xep0084.js';
import { withLock } from './im/roster-store.js';
import { parseStoredXml } from './im/xml-parse.js';
import { getPepService, type PepPublishedEvent } from './pep/index.js';
import { NS_VCARD, DEFAULT_VCARD_MAX } from './vcard.js';
import type { VcardUpdatedEvent } from './vcard-avatar.js';

const SOURCE = 'avatar-conversion';

const optionsSchema = z.object({ accessModel: z.enum(['open', 'presence']).default('open') }).strict();

export default defineModule({
  name: 'avatar-conversion',
  spec: 'XEP-0398: User Avatar to vCard-Based Avatars Conversion',
  load(api) {
    const parsed = optionsSchema.safeParse(api.options);
    if (!parsed.success) throw new Error(`modules.avatar-conversion: ${parsed.error.issues[0]!.message}`);
    const { accessModel } = parsed.data;
    const pep = getPepService(api);
    if (!pep) {
      api.log.warn('avatar-conversion: the pep module is disabled, no avatar conversion');
      return;
    }
    const vcards = api.keyval('vcard');
    const vcardOptions = (api.config.modules as Record<string, unknown>).vcard as { maxSize?: unknown } | undefined;
    const vcardMax = typeof vcardOptions?.maxSize === 'number' ? vcardOptions.maxSize : DEFAULT_VCARD_MAX;
    api.disco.addAccountFeature(NS_PEP_VCARD_CONVERSION);

    const owner = (u: string) => `${u}@${api.host}`;
    const lock = <T>(u: string, fn: () => Promise<T>) => withLock('avatar:' + owner(u), fn);

    const storeVcard = async (username: string, change: (card: Element) => void) => {
      const card = elementFromJson(await vcards.get(owner(username), 'vcard')) ?? xml('vCard', { xmlns: NS_VCARD });
      change(card);
      if (xmlSize(card) > vcardMax) {
        api.log.info('avatar-conversion: avatar too large for the vCard', { user: username, limit: vcardMax });
        return;
      }
      await vcards.set(owner(username), 'vcard', card.elements().length === 0 ? undefined : elementToJson(card));
      await api.hooks.fireAsync<VcardUpdatedEvent>('vcard-updated', { username, vcard: card, source: SOURCE });
    };

    /** §3.1: a metadata item was published. */
    const pepToVcard = (username: string, metadata: Element) =>
      lock(username, async () => {
        const infos = metadata.getChildren('info');
        if (infos.length === 0) {
          await storeVcard(username, (card) => card.removeChildren('PHOTO'));
          return;
        }
        const info = infos.find((i) => i.attrs.url === undefined);
        const id = info?.attrs.id?.toLowerCase();
        if (!info || !id) return;
        const data = ((await pep.ownItems(username, NS_AVATAR_DATA)) ?? []).find((i) => i.id.toLowerCase() === id);
        const el = data ? parseStoredXml(data.xml) : undefined;
        const bytes = el && el.name === 'data' && el.attrs.xmlns === NS_AVATAR_DATA ? decodeBase64(el.text()) : undefined;
        // §3.1: the image must be the one the metadata names.
        if (!bytes || sha1Hex(bytes) !== id) {
          api.log.info('avatar-conversion: metadata names no matching image', { user: username, id });
          return;
        }
        const type = info.attrs.type ?? 'image/png';
        await storeVcard(username, (card) => {
          card.removeChildren('PHOTO');
          card.append(xml('PHOTO', {}, xml('TYPE', {}, type), xml('BINVAL', {}, bytes.toString('base64'))));
        });
      });

    const publishAvatar = async (username: string, node: string, id: string, payload: Element) => {
      const exists = (await pep.node(username, node)) !== undefined;
      await pep.publish(username, node, { publisher: owner(username), id, payload, source: SOURCE, ...(exists ? {} : { options: { accessModel } }) });
    };

    /** §3.2: a vCard was set by a client. */
    const vcardToPep = (username: string, vcard: Element) =>
      lock(username, async () => {
        const photo = vcardPhoto(vcard);
        const current = ((await pep.ownItems(username, NS_AVATAR_METADATA)) ?? []).at(-1);
        if (!photo) {
          // Only an avatar that exists is disabled.
          const el = current ? parseStoredXml(current.xml) : undefined;
          if (el && el.getChildren('info').length > 0) await publishAvatar(username, NS_AVATAR_METADATA, 'none', xml('metadata', { xmlns: NS_AVATAR_METADATA }));
          return;
        }
        if (current?.id === photo.hash) return;
        await publishAvatar(username, NS_AVATAR_DATA, photo.hash, xml('data', { xmlns: NS_AVATAR_DATA }, photo.bytes.toString('base64')));
        await publishAvatar(
          username,
          NS_AVATAR_METADATA,
          photo.hash,
          xml('metadata', { xmlns: NS_AVATAR_METADATA }, xml('info', { id: photo.hash, bytes: String(photo.bytes.length), type: photo.type })),
        );
      });

    const failed = (what: string) => (e: unknown) => api.log.warn(`avatar-conversion: ${what} not converted`, { error: String(e) });

    api.hook<PepPublishedEvent>('pep-published', async (ev) => {
      if (ev.source === SOURCE || ev.node !== NS_AVATAR_METADATA) return;
      if (ev.payload.name !== 'metadata' || ev.payload.attrs.xmlns !== NS_AVATAR_METADATA) return;
      await pepToVcard(ev.username, ev.payload).catch(failed('PEP avatar'));
    });

    api.hook<VcardUpdatedEvent>('vcard-updated', async (ev) => {
      if (ev.source === SOURCE) return;
      await vcardToPep(ev.username, ev.vcard).catch(failed('vCard photo'));
    });
  },
});
