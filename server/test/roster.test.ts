// RFC 6121 §2 (Managing the Roster) and XEP-0237 (Roster Versioning), through real clients.
// https://www.rfc-editor.org/rfc/rfc6121#section-2 ; https://xmpp.org/extensions/xep-0237.html
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { clientsOf, errCondition, isPush, ROSTER } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;

const { connect } = clientsOf(() => srv, { waitMs: 4000, noneMs: 300 });

const rosterSet = (c: any, item: any) => c.iqCaller.set(xml('query', { xmlns: ROSTER }, item));

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, u + 'pw');
});

afterAll(async () => {
  await srv?.stop();
});

describe('roster get / set / remove', () => {
  it('an empty roster comes with a version', async () => {
    const { c } = await connect('carol', 'carolpw');
    const q = await c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    expect(q.getChildren('item')).toHaveLength(0);
    expect(typeof q.attrs.ver).toBe('string');
    await c.stop();
  });

  it('add, update and remove an item; pushes reach every interested resource, not the others', async () => {
    const a = await connect('alice', 'alicepw', 'one');
    const b = await connect('alice', 'alicepw', 'two');
    const quiet = await connect('alice', 'alicepw', 'three');
    await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    await b.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    const contact = `dave@${domain}`;

    await rosterSet(a.c, xml('item', { jid: contact, name: 'Dave' }, xml('group', {}, 'Friends')));
    for (const r of [a, b]) {
      const push = await r.inbox.wait(isPush(contact));
      const item = push.getChild('query', ROSTER).getChild('item');
      expect(item.attrs.name).toBe('Dave');
      expect(item.attrs.subscription).toBe('none');
      expect(item.getChildText('group')).toBe('Friends');
      expect(push.getChild('query', ROSTER).attrs.ver).toBeTruthy();
      expect(push.attrs.from === undefined || push.attrs.from === `alice@${domain}`).toBe(true);
    }
    await quiet.inbox.none(isPush());

    // Update: new name, two groups; the client may not set subscription (ignored).
    await rosterSet(
      a.c,
      xml('item', { jid: contact, name: 'David', subscription: 'both' }, xml('group', {}, 'Work'), xml('group', {}, 'Friends')),
    );
    const upd = (await b.inbox.wait(isPush(contact))).getChild('query', ROSTER).getChild('item');
    await a.inbox.wait(isPush(contact)); // the sender's own resource gets the same push
    expect(upd.attrs.name).toBe('David');
    expect(upd.attrs.subscription).toBe('none');
    expect(upd.getChildren('group').map((g: any) => g.text()).sort()).toEqual(['Friends', 'Work']);

    const q = await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    expect(q.getChildren('item').map((i: any) => i.attrs.jid)).toEqual([contact]);

    await rosterSet(a.c, xml('item', { jid: contact, subscription: 'remove' }));
    for (const r of [a, b]) {
      const push = await r.inbox.wait(isPush(contact));
      expect(push.getChild('query', ROSTER).getChild('item').attrs.subscription).toBe('remove');
    }
    const after = await a.c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    expect(after.getChildren('item')).toHaveLength(0);
    await Promise.all([a.c.stop(), b.c.stop(), quiet.c.stop()]);
  });

  it('error cases: two items, duplicate and empty groups, unknown item removal, no jid', async () => {
    const { c } = await connect('carol', 'carolpw');
    const two = c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid: `a@${domain}` }), xml('item', { jid: `b@${domain}` })));
    expect(await errCondition(two)).toBe('bad-request');
    const dup = rosterSet(c, xml('item', { jid: `a@${domain}` }, xml('group', {}, 'X'), xml('group', {}, 'X')));
    expect(await errCondition(dup)).toBe('bad-request');
    const empty = rosterSet(c, xml('item', { jid: `a@${domain}` }, xml('group', {})));
    expect(await errCondition(empty)).toBe('not-acceptable');
    const gone = rosterSet(c, xml('item', { jid: `nobody@${domain}`, subscription: 'remove' }));
    expect(await errCondition(gone)).toBe('item-not-found');
    expect(await errCondition(rosterSet(c, xml('item', {})))).toBe('bad-request');
    await c.stop();
  });

  it("another account's roster is off limits", async () => {
    const { c } = await connect('carol', 'carolpw');
    expect(await errCondition(c.iqCaller.get(xml('query', { xmlns: ROSTER }), `alice@${domain}`))).toBe('forbidden');
    expect(
      await errCondition(c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid: `x@${domain}` })), `alice@${domain}`)),
    ).toBe('forbidden');
    await c.stop();
  });
});

describe('roster versioning (XEP-0237)', () => {
  it('current version: empty result; stale version: full roster; pushes carry the new version', async () => {
    const { c, inbox } = await connect('bob', 'bobpw');
    await rosterSet(c, xml('item', { jid: `carol@${domain}` }));
    const full = await c.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ver: '' })));
    const ver = full.getChild('query', ROSTER).attrs.ver;
    expect(ver).toBeTruthy();
    expect(full.getChild('query', ROSTER).getChildren('item')).toHaveLength(1);

    const same = await c.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ver })));
    expect(same.attrs.type).toBe('result');
    expect(same.getChild('query')).toBeUndefined();

    await rosterSet(c, xml('item', { jid: `dave@${domain}` }));
    const push = await inbox.wait(isPush(`dave@${domain}`));
    const newVer = push.getChild('query', ROSTER).attrs.ver;
    expect(newVer).toBeTruthy();
    expect(newVer).not.toBe(ver);

    const stale = await c.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ver })));
    const q = stale.getChild('query', ROSTER);
    expect(q.attrs.ver).toBe(newVer);
    expect(q.getChildren('item').map((i: any) => i.attrs.jid).sort()).toEqual([`carol@${domain}`, `dave@${domain}`]);
    const now = await c.iqCaller.request(xml('iq', { type: 'get' }, xml('query', { xmlns: ROSTER, ver: newVer })));
    expect(now.getChild('query')).toBeUndefined();
    await c.stop();
  });
});

describe('roster size limit (modules.roster.maxItems)', () => {
  it('refuses new items beyond the limit with not-allowed, still allows updates', async () => {
    const small = await startTestServer({ modules: { roster: { maxItems: 2 } } });
    await small.addUser('erin', 'erinpw');
    const c = await small.client('erin', 'erinpw');
    const set = (jid: string, name?: string) => c.iqCaller.set(xml('query', { xmlns: ROSTER }, xml('item', { jid, name })));
    await set(`x1@${small.host}`);
    await set(`x2@${small.host}`);
    await expect(set(`x3@${small.host}`)).rejects.toMatchObject({ condition: 'not-allowed' });
    await set(`x2@${small.host}`, 'renamed');
    const q = await c.iqCaller.get(xml('query', { xmlns: ROSTER }));
    expect(q.getChildren('item').map((i: any) => i.attrs.name ?? '')).toContain('renamed');
    await small.stop();
  });
});
