// XEP-0425: Moderated Message Retraction 0.3.0 (2023-03-02), with the 0.2 request form
// (urn:xmpp:message-moderate:0 in urn:xmpp:fasten:0 apply-to) still accepted, as Prosody does;
// https://xmpp.org/extensions/xep-0425.html
// XEP-0424: Message Retraction 0.4.2 (2025-01-18), in a room: the id is the room's stanza-id.
// https://xmpp.org/extensions/xep-0424.html
//
// Both replace the archived message with a tombstone (same id and time, body gone) and drop it
// from the history new occupants get. An occupant may only retract its own messages: the
// archived message's occupant-id (XEP-0421) must be its own, checked here so the archive is
// never changed on a forged request. The room's moderation notice carries both the :1 form and
// the :0 apply-to form, so older clients apply it too.
import type { StanzaEvent } from '../../core/module.js';
import { xml, type Element } from '../../xml/element.js';
import { stamp } from './history.js';
import { NS_FASTEN, NS_HINTS, NS_MODERATE, NS_MODERATE_0, NS_OCCUPANT_ID, NS_RETRACT, NS_RETRACT_0 } from './namespaces.js';
import type { Occupant } from './occupant.js';
import { broadcastMessage, roomCopy } from './room-messages.js';
import type { Room } from './room.js';
import { occupantIdEl } from './stanzas.js';
import { AFFILIATION_RANK } from './types.js';

/** An occupant retracts its own message (a groupchat message carrying <retract id/>). */
export function handleSelfRetraction(room: Room, ev: StanzaEvent, occ: Occupant, retract: Element): void {
  const id = retract.attrs.id;
  if (!id) return room.reject(ev, 'modify', 'bad-request', 'a retraction names the stanza-id of the message');
  const out = roomCopy(room, ev.stanza, occ.nick, 'groupchat');
  if (!room.config.archive) {
    room.history.remove(id);
    return broadcastMessage(room, ev, occ, out);
  }
  room.ctx.archive
    .get(room.jid, id)
    .then(async (orig) => {
      if (orig) {
        const author = orig.stanza.getChild('occupant-id', NS_OCCUPANT_ID)?.attrs.id;
        if (author !== occ.occupantId) return room.reject(ev, 'auth', 'forbidden', 'you can only retract your own messages');
        if (!orig.stanza.getChild('retracted', NS_RETRACT)) await room.ctx.archive.tombstone(room.jid, orig, xml('retracted', { xmlns: NS_RETRACT, stamp: stamp(Date.now()) }));
      }
      room.history.remove(id);
      broadcastMessage(room, ev, occ, out);
    })
    .catch((e) => {
      room.ctx.log.error('retraction failed', { room: room.jid, error: String(e) });
      room.reject(ev, 'wait', 'internal-server-error', 'the retraction could not be stored; try again');
    });
}

interface ModerationRequest {
  id: string;
  reason: string | undefined;
}

function parseRequest(iq: Element): ModerationRequest | 'no-retract' | undefined {
  const m1 = iq.getChild('moderate', NS_MODERATE);
  if (m1) {
    if (!m1.getChild('retract', NS_RETRACT)) return 'no-retract';
    return m1.attrs.id ? { id: m1.attrs.id, reason: m1.getChildText('reason') } : undefined;
  }
  const apply = iq.getChild('apply-to', NS_FASTEN);
  const m0 = apply?.getChild('moderate', NS_MODERATE_0);
  if (apply && m0) {
    if (!m0.getChild('retract', NS_RETRACT_0)) return 'no-retract';
    return apply.attrs.id ? { id: apply.attrs.id, reason: m0.getChildText('reason') } : undefined;
  }
  return undefined;
}

/** A moderator retracts someone's message (iq set to the room, XEP-0425 §4). */
export async function handleModerate(room: Room, ev: StanzaEvent): Promise<void> {
  const ctx = room.ctx;
  const req = parseRequest(ev.stanza);
  if (req === 'no-retract') {
    ctx.error(ev, 'cancel', 'feature-not-implemented', 'only retraction is supported as a moderation action');
    return;
  }
  if (!req) {
    ctx.error(ev, 'modify', 'bad-request', 'a moderation request names the stanza-id of the message');
    return;
  }
  const actorOcc = room.bySession.get(ev.from.full);
  const aff = room.affiliationOf(ev.from);
  if (actorOcc?.role !== 'moderator' && AFFILIATION_RANK[aff] < AFFILIATION_RANK.admin) {
    ctx.error(ev, 'auth', 'forbidden', "only moderators may retract other people's messages");
    return;
  }
  if (!room.config.archive) {
    ctx.error(ev, 'cancel', 'item-not-found', 'this room keeps no archive to retract from');
    return;
  }
  const orig = await room.ctx.archive.get(room.jid, req.id);
  if (!orig || orig.with === room.jid) {
    ctx.error(ev, 'cancel', 'item-not-found', 'no message with that id in this room');
    return;
  }
  const by = actorOcc ? room.occupantJid(actorOcc.nick) : room.jid;
  const actorId = actorOcc?.occupantId;
  const moderated = (ns: string) => {
    const m = xml('moderated', { xmlns: ns, by });
    if (ns === NS_MODERATE && actorId) m.append(occupantIdEl(actorId));
    return m;
  };
  const tomb = xml('retracted', { xmlns: NS_RETRACT, stamp: stamp(Date.now()) }, moderated(NS_MODERATE));
  if (req.reason) tomb.c('reason').t(req.reason);
  await room.ctx.archive.tombstone(room.jid, orig, tomb);
  room.history.remove(req.id);

  const notice = xml('message', { type: 'groupchat', from: room.jid, id: `mod-${Date.now().toString(36)}` });
  const r1 = notice.c('retract', { xmlns: NS_RETRACT, id: req.id });
  r1.append(moderated(NS_MODERATE));
  if (req.reason) r1.c('reason').t(req.reason);
  const m0 = moderated(NS_MODERATE_0);
  m0.c('retract', { xmlns: NS_RETRACT_0 });
  if (req.reason) m0.c('reason').t(req.reason);
  notice.c('apply-to', { xmlns: NS_FASTEN, id: req.id }).append(m0);
  notice.c('store', { xmlns: NS_HINTS });
  broadcastMessage(room, undefined, undefined, notice);
  ctx.result(ev);
}
