// Issue scenario 1 end to end with a real client library (@xmpp/client: SASL2, Bind2 with stream
// management inline, FAST, XEP-0198): a phone goes inactive (XEP-0352), its TCP connection is
// cut while messages keep arriving, and it resumes: every message arrives exactly once. Then the
// same with the hibernation timing out: every message the phone did not get is in offline
// storage (delivered at the next login, each once), and all of them are in the archive (MAM).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { dropConnection, startTestServer } from './helpers/server.js';
import { NS_CSI, NS_SASL2, tick } from './helpers/raw-mobile.js';

const N = 60;
const ids = Array.from({ length: N }, (_, i) => `m${i + 1}`);

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await tick(20);
  }
}

/** Message ids a client receives, counted per id. */
function collect(c: any): Map<string, number> {
  const seen = new Map<string, number>();
  c.on('stanza', (s: any) => {
    if (s.is('message') && s.getChildText('body') !== null && s.getChildText('body') !== undefined && s.attrs.id) seen.set(s.attrs.id, (seen.get(s.attrs.id) ?? 0) + 1);
  });
  return seen;
}

describe('scenario 1: a phone that loses its connection', () => {
  let srv: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-pw');
    await srv.addUser('bob', 'bob-pw');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('inactive, cut mid-traffic, messages keep coming, resumed: every message exactly once', async () => {
    const phone = await srv.client('alice', 'alice-pw', 'phone');
    const seen = collect(phone);
    const mechanisms: string[] = [];
    phone.on('send', (el: any) => el.is('authenticate', NS_SASL2) && mechanisms.push(el.attrs.mechanism));
    await phone.send(xml('presence'));
    await phone.send(xml('inactive', { xmlns: NS_CSI }));
    const sm = phone.streamManagement;
    expect(sm.enabled).toBe(true);
    expect(sm.id).toBeTruthy();
    const bob = await srv.client('bob', 'bob-pw', 'pc');
    // bob sends to alice's bare JID, one message every few milliseconds.
    let sent = 0;
    const sending = (async () => {
      for (const id of ids) {
        await bob.send(xml('message', { to: `alice@${srv.host}`, type: 'chat', id }, xml('body', {}, `text of ${id}`)));
        sent++;
        await tick(15);
      }
    })();
    await waitFor(() => seen.size >= 20, 10_000, '20 messages before the cut');
    const beforeCut = seen.size;
    dropConnection(phone);
    await waitFor(() => phone.status === 'disconnect', 5000, 'the phone noticing the cut');
    // Messages keep arriving at the server while the phone is away.
    await waitFor(() => sent >= beforeCut + 20, 10_000, 'traffic during the cut');
    expect(seen.size).toBeLessThan(N);
    await phone.reconnect.reconnect();
    await sending;
    await waitFor(() => seen.size === N, 10_000, `all ${N} messages (have ${seen.size})`);
    await tick(300);
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // The reconnect was a FAST token login with the session resumed (not a new one).
    expect(mechanisms).toEqual(['HT-SHA-256-NONE']);
    expect(phone.jid.resource).toMatch(/^phone\//);
    expect(srv.server.hosts.get(srv.host)!.sessions.sessionsOf('alice')).toHaveLength(1);
    await phone.stop();
    await bob.stop();
  });
});

describe('scenario 1, hibernation timing out', () => {
  let srv: Awaited<ReturnType<typeof startTestServer>>;
  beforeAll(async () => {
    srv = await startTestServer({ streamManagement: { hibernation: 1 } });
    await srv.addUser('alice', 'alice-pw');
    await srv.addUser('bob', 'bob-pw');
  });
  afterAll(async () => {
    await srv?.stop();
  });

  it('every message the phone did not get is in offline storage, delivered once at the next login; all are archived', async () => {
    const phone = await srv.client('alice', 'alice-pw', 'phone');
    const seen = collect(phone);
    await phone.send(xml('presence'));
    await phone.send(xml('inactive', { xmlns: NS_CSI }));
    const bob = await srv.client('bob', 'bob-pw', 'pc');
    let sent = 0;
    const sending = (async () => {
      for (const id of ids) {
        await bob.send(xml('message', { to: `alice@${srv.host}`, type: 'chat', id }, xml('body', {}, `text of ${id}`)));
        sent++;
        await tick(15);
      }
    })();
    await waitFor(() => seen.size >= 20, 10_000, '20 messages before the cut');
    dropConnection(phone);
    await waitFor(() => phone.status === 'disconnect', 5000, 'the phone noticing the cut');
    const gotBefore = new Set(seen.keys());
    await sending;
    // The session hibernates for 1 s, then ends: what it never acknowledged goes offline.
    await waitFor(() => srv.server.hosts.get(srv.host)!.sessions.sessionsOf('alice').length === 0, 5000, 'the hibernation to end');
    await tick(300);
    const laptop = await srv.client('alice', 'alice-pw', 'laptop');
    const later = collect(laptop);
    await laptop.send(xml('presence'));
    await waitFor(() => [...ids].every((id) => gotBefore.has(id) || later.has(id)), 10_000, 'every missing message from offline storage');
    await tick(300);
    expect([...later.values()].every((n) => n === 1)).toBe(true);
    for (const id of ids) if (!gotBefore.has(id)) expect(later.get(id), id).toBe(1);
    // Offline storage holds only what was not acknowledged: nothing the phone had acked.
    expect(later.size).toBeLessThan(N);
    // The archive has all of them, once each.
    const archived = new Map<string, number>();
    laptop.on('stanza', (s: any) => {
      const m = s.getChild('result', 'urn:xmpp:mam:2')?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message');
      if (m?.attrs.id) archived.set(m.attrs.id, (archived.get(m.attrs.id) ?? 0) + 1);
    });
    const fin = await laptop.iqCaller.request(
      xml('iq', { type: 'set' }, xml('query', { xmlns: 'urn:xmpp:mam:2', queryid: 'q1' },
        xml('x', { xmlns: 'jabber:x:data', type: 'submit' },
          xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, 'urn:xmpp:mam:2')),
          xml('field', { var: 'with' }, xml('value', {}, `bob@${srv.host}`))),
        xml('set', { xmlns: 'http://jabber.org/protocol/rsm' }, xml('max', {}, '250')))),
    );
    expect(fin.attrs.type).toBe('result');
    await tick(200);
    expect([...archived.keys()].sort()).toEqual([...ids].sort());
    expect([...archived.values()].every((n) => n === 1)).toBe(true);
    await laptop.stop();
    await bob.stop();
    await phone.stop().catch(() => {});
  });
});
