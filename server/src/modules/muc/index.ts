// XEP-0045: Multi-User Chat, the group chat service of a host (conference.<host>)
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17), with XEP-0421 (occupant ids), XEP-0410 (self-ping), XEP-0249
// (direct invitation element on mediated invitations), XEP-0425/0424 (moderation, retraction),
// XEP-0313 (room archive), XEP-0359 (stanza ids), XEP-0128 (room info), XEP-0486 (room avatars).
//
// Settings: the `muc` section of roost.yaml. Stores: keyval 'muc_rooms' (persistent rooms),
// 'muc_service' (occupant-id secret), archive 'muc' (owner = room bare JID).
// Hooks fired for other modules:
//   muc/push-candidate     { room, occupantJid, userBare, stanza, mention } — a room message
//                          for a joined user with no connected, awake session (push, issue 4)
//   muc/affiliation-changed { room, jid, affiliation, previous }
//   muc/room-destroyed     { room }
import { defineModule } from '../../core/module.js';
import type { Session } from '../../core/session.js';
import { MucService } from './service.js';

/** Running services by domain (tests and benchmarks reach the service through this). */
export const mucServices = new Map<string, MucService>();

export default defineModule({
  name: 'muc',
  spec: 'XEP-0045: Multi-User Chat (with XEP-0421, 0410, 0249, 0425, 0424, 0313, 0359, 0128, 0486)',
  async load(api) {
    const cfg = api.config.muc;
    if (!cfg.enabled) return;
    const domain = `${cfg.subdomain}.${api.host}`;
    const service = await MucService.create(api, domain);
    api.component(domain, (ev) => service.deliver(ev));
    api.disco.addItem({ jid: domain, name: cfg.name });
    mucServices.set(domain, service);
    api.onUnload(() => {
      if (mucServices.get(domain) === service) mucServices.delete(domain);
    });

    api.hook<{ session: Session }>('session-closed', ({ session }) => {
      if (session.jid) service.sessionClosed(session.jid.full);
    });
    api.hook<{ username: string }>('account-deleted', ({ username }) => service.accountDeleted(`${username}@${api.host}`));
    // Before the streams close: occupants hear 332, temporary rooms go with their archives.
    api.hook('server-stopping', () => service.shutdown().then(() => false));
    api.every(3_600_000, async () => {
      const n = await service.purgeExpired();
      if (n > 0) api.log.info('room archive retention', { service: domain, deleted: n });
    });
  },
});
