// Rooms across a daemon restart on the same data directory (real SQLite file): a persistent
// room's configuration, affiliations, subject, vCard and archive survive, the history new
// occupants get is refilled from the archive and occupant ids stay the same; temporary rooms do
// not come back; occupants hear status 332 when the service shuts down.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join as pathJoin } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import {
  NS,
  adminList,
  adminSet,
  connect,
  createRoom,
  discoInfo,
  groupchat,
  iqError,
  isMsg,
  isPresence,
  join,
  joinError,
  roomStanzaId as sid,
  statusCodes,
  xml,
  type User,
} from './helpers/muc.js';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(pathJoin(tmpdir(), 'roost-muc-restart-'));
});

afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('restart', () => {
  it('a persistent room keeps config, affiliations, subject, vCard, archive and occupant ids; a temporary one is gone; 332 at shutdown', async () => {
    const svc = 'conference.localhost';
    const r = `office@${svc}`;
    const temp = `scratch@${svc}`;
    let stanzaIds: string[] = [];
    let bobOid: string;
    const srv1 = await startTestServer({ dataDir } as never);
    {
      for (const u of ['alice', 'bob', 'eve']) await srv1.addUser(u, u + '-pw');
      const alice = await connect(srv1, 'alice');
      const bob = await connect(srv1, 'bob');
      await createRoom(alice, r, 'alice', {
        'muc#roomconfig_roomname': 'The Office',
        'muc#roomconfig_persistentroom': true,
        'muc#roomconfig_membersonly': true,
        'muc#roomconfig_whois': 'anyone',
        'muc#roomconfig_historylength': '3',
      });
      await adminSet(alice, r, [
        { jid: 'bob@localhost', affiliation: 'member', nick: 'bobby' },
        { jid: 'eve@localhost', affiliation: 'outcast' },
      ]);
      const j = await join(bob, r, 'bobby');
      bobOid = j.self.getChild('occupant-id', NS.oid).attrs.id;
      await alice.send(xml('message', { to: r, type: 'groupchat' }, xml('subject', {}, 'Budget week')));
      await bob.inbox.wait((s) => s.name === 'message' && s.getChildText('subject') === 'Budget week');
      for (const body of ['one', 'two', 'three', 'four']) {
        await groupchat(bob, r, body);
        stanzaIds.push(sid(await alice.inbox.wait(isMsg(body))));
      }
      await alice.iq(xml('iq', { type: 'set', to: r }, xml('vCard', { xmlns: NS.vcard }, xml('PHOTO', {}, xml('TYPE', {}, 'image/png'), xml('BINVAL', {}, 'aGVsbG8=')))));
      await createRoom(alice, temp, 'alice', { 'muc#roomconfig_persistentroom': false });
      const shutdown = bob.inbox.wait((s) => isPresence(`${r}/bobby`, 'unavailable')(s), 8000);
      // The daemon itself stops (the harness's stop() would close the clients first).
      const stopping = srv1.server.stop();
      const p = await shutdown;
      expect(statusCodes(p)).toEqual([110, 332]);
      await stopping;
      await srv1.stop();
    }
    const srv2 = await startTestServer({ dataDir } as never);
    try {
      const alice = await connect(srv2, 'alice');
      const bob = await connect(srv2, 'bob');
      const eve = await connect(srv2, 'eve');
      const info = await discoInfo(bob, r);
      expect(info.form.get('muc#roomconfig_roomname')).toEqual(['The Office']);
      expect(info.form.get('muc#roominfo_subject')).toEqual(['Budget week']);
      expect(info.features).toEqual(expect.arrayContaining(['muc_persistent', 'muc_membersonly', 'muc_nonanonymous']));
      expect(info.form.get('muc#roominfo_avatarhash')?.length).toBe(1);
      expect((await adminList(alice, r, { affiliation: 'member' })).map((i) => [i.attrs.jid, i.attrs.nick])).toEqual([['bob@localhost', 'bobby']]);
      expect((await joinError(eve, r, 'eve')).condition).toBe('forbidden');
      const j = await join(bob, r, 'bobby');
      expect(j.self.getChild('occupant-id', NS.oid).attrs.id).toBe(bobOid!);
      expect(j.subject.getChildText('subject')).toBe('Budget week');
      // History refilled from the archive (the room shows its last 3).
      expect(j.history.map((m) => m.getChildText('body'))).toEqual(['two', 'three', 'four']);
      expect(j.history.map((m) => sid(m))).toEqual(stanzaIds.slice(1));
      // The archive is all there, under the same ids.
      const results: any[] = [];
      bob.c.on('stanza', (s: any) => s.getChild('result', NS.mam) && results.push(s.getChild('result', NS.mam)));
      await bob.iq(xml('iq', { type: 'set', to: r }, xml('query', { xmlns: NS.mam })));
      const bodies = results.map((x) => x.getChild('forwarded', NS.forward).getChild('message')).filter((m) => m.getChild('body'));
      expect(bodies.map((m) => m.getChildText('body'))).toEqual(['one', 'two', 'three', 'four']);
      expect(results.filter((x) => x.getChild('forwarded', NS.forward).getChild('message').getChild('body')).map((x) => x.attrs.id)).toEqual(stanzaIds);
      // The temporary room did not survive.
      expect((await iqError(alice.iq(xml('iq', { type: 'get', to: temp }, xml('query', { xmlns: NS.discoInfo }))))).condition).toBe('item-not-found');
      // The room works as before.
      await join(alice, r, 'alice');
      await groupchat(alice, r, 'after the restart');
      await bob.inbox.wait(isMsg('after the restart'));
    } finally {
      await srv2.stop();
    }
  });
});

export type { User };
