// XEP-0313: Message Archive Management — the room side of storage (archive store 'muc', owner =
// room bare JID); XEP-0359: Unique and Stable Stanza IDs (the archive id is the stanza-id).
// https://xmpp.org/extensions/xep-0313.html Version 1.1.3 (2025-04-09), §3.3.2, §6.1.2
// https://xmpp.org/extensions/xep-0359.html Version 0.7.0 (2023-08-23)
//
// An item holds the message as the room broadcast it (from room/nick, no 'to') with one private
// child, <sender xmlns='urn:roost:muc:0' jid='real full JID'/>, so MAM can show real JIDs to
// those allowed to see them; it never leaves the server. 'with' is the occupant JID (MAM's
// 'with' on a room archive matches the publisher, §4.1.1). A retraction replaces the item by a
// tombstone under the same id and time (delete and append in one transaction: the store
// commits writes of one event-loop turn together).
import type { ArchiveItem, ArchiveQuery, ArchiveResult, ArchiveStore } from '../../storage/types.js';
import { Element, xml } from '../../xml/element.js';
import { parseElement } from '../../xml/parse-element.js';
import type { HistoryEntry } from './history.js';
import { NS_FASTEN, NS_RETRACT, NS_ROOST_MUC } from './namespaces.js';

export interface ArchivedMessage {
  id: string;
  when: number;
  /** The message as broadcast (no 'to'), private child removed. */
  stanza: Element;
  /** Real full JID of the sender, if recorded. */
  sender?: string;
}

/** A message with content new occupants should see again (not a retraction or a notice). */
export function isHistoryMessage(m: Element): boolean {
  if (m.getChild('body') === undefined) return false;
  return !m.getChild('retract', NS_RETRACT) && !m.getChild('apply-to', NS_FASTEN) && !m.getChild('retracted', NS_RETRACT);
}

export class RoomArchive {
  constructor(private readonly store: ArchiveStore) {}

  append(room: string, id: string, when: number, nick: string | undefined, stanza: Element, sender: string | undefined): Promise<string> {
    const stored = stanza.clone();
    delete stored.attrs.to;
    if (sender !== undefined) stored.append(xml('sender', { xmlns: NS_ROOST_MUC, jid: sender }));
    return this.store.append(room, {
      id,
      when,
      with: nick === undefined ? room : `${room}/${nick}`,
      body: stanza.getChildText('body') ?? '',
      xml: stored.toString(),
    });
  }

  private decode(item: ArchiveItem): ArchivedMessage | undefined {
    let el: Element;
    try {
      el = parseElement(item.xml, { defaultNs: 'jabber:client' });
    } catch {
      return undefined;
    }
    const marker = el.getChild('sender', NS_ROOST_MUC);
    if (marker) el.remove(marker);
    const out: ArchivedMessage = { id: item.id, when: item.when, stanza: el };
    if (marker?.attrs.jid) out.sender = marker.attrs.jid;
    return out;
  }

  async get(room: string, id: string): Promise<(ArchivedMessage & { with: string }) | undefined> {
    const r = await this.store.query(room, { ids: [id], limit: 1 });
    const item = r.items[0];
    if (!item) return undefined;
    const m = this.decode(item);
    return m && { ...m, with: item.with };
  }

  async query(room: string, q: ArchiveQuery): Promise<{ result: ArchiveResult; messages: ArchivedMessage[] }> {
    const result = await this.store.query(room, q);
    const messages: ArchivedMessage[] = [];
    for (const item of result.items) {
      const m = this.decode(item);
      // A damaged row keeps its place with an empty message rather than breaking the page.
      messages.push(m ?? { id: item.id, when: item.when, stanza: xml('message', { type: 'groupchat', from: item.with }) });
    }
    return { result, messages };
  }

  /** The newest history-worthy messages, oldest first (refills the in-memory history). */
  async recent(room: string, n: number): Promise<HistoryEntry[]> {
    if (n === 0) return [];
    const { messages } = await this.query(room, { limit: Math.min(1000, n * 3 + 10), reverse: true });
    return messages
      .filter((m) => isHistoryMessage(m.stanza))
      .slice(-n)
      .map((m) => ({ id: m.id, when: m.when, stanza: m.stanza }));
  }

  /**
   * Replaces the message with a tombstone: the same attributes and occupant-id, the body and
   * every other payload gone, `retracted` in their place (XEP-0424 §5, XEP-0425 §6).
   */
  async tombstone(room: string, original: ArchivedMessage & { with: string }, retracted: Element): Promise<void> {
    const t = xml('message', { ...original.stanza.attrs });
    const oid = original.stanza.getChild('occupant-id', 'urn:xmpp:occupant-id:0');
    if (oid) t.append(oid);
    t.append(retracted);
    // One turn: the delete and the new row commit together.
    const del = this.store.delete(room, [original.id]);
    const add = this.append(room, original.id, original.when, nickOf(original.with), t, original.sender);
    await Promise.all([del, add]);
  }

  purgeBefore(room: string, before: number): Promise<number> {
    return (async () => {
      let total = 0;
      for (;;) {
        const r = await this.store.query(room, { end: before - 1, limit: 500 });
        if (r.items.length === 0) return total;
        total += await this.store.delete(room, r.items.map((i) => i.id));
        if (r.complete) return total;
      }
    })();
  }

  deleteAll(room: string): Promise<number> {
    return this.store.delete(room);
  }
}

function nickOf(withJid: string): string | undefined {
  const i = withJid.indexOf('/');
  return i < 0 ? undefined : withJid.slice(i + 1);
}
