// Issue scenario 3, first-contact OMEMO: a stranger (no roster relation at all) fetches the
// device list and a bundle, for both the legacy namespace Conversations uses
// (eu.siacs.conversations.axolotl) and OMEMO 2 (urn:xmpp:omemo:2), published the way clients
// publish them (publish-options access_model open; OMEMO 2 bundles as items of one node with
// max_items max). Also the recovery clients do when an old node is not open yet
// (precondition-not-met, reconfigure, publish again), and a stranger's directed presence with
// devicelist+notify getting the list pushed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { PUBSUB, PUBSUB_OWNER, announce, connect, form, iqError, isEvent, publishIq, type Peer } from './helpers/pep.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;
let romeo: Peer;
let stranger: Peer;
const J = (u: string) => `${u}@${domain}`;

const AX = 'eu.siacs.conversations.axolotl';
const O2 = 'urn:xmpp:omemo:2';
const OPEN = { 'pubsub#access_model': 'open' };

const axBundle = (id: string) =>
  xml(
    'bundle',
    { xmlns: AX },
    xml('signedPreKeyPublic', { signedPreKeyId: '1' }, 'BQ' + id),
    xml('signedPreKeySignature', {}, 'c2ln'),
    xml('identityKey', {}, 'aWs' + id),
    xml('prekeys', {}, xml('preKeyPublic', { preKeyId: '1' }, 'cGsx'), xml('preKeyPublic', { preKeyId: '2' }, 'cGsy')),
  );
const o2Bundle = (id: string) =>
  xml(
    'bundle',
    { xmlns: O2 },
    xml('spk', { id: '1' }, 'c3Br' + id),
    xml('spks', {}, 'c2ln'),
    xml('ik', {}, 'aWs' + id),
    xml('prekeys', {}, xml('pk', { id: '1' }, 'cGsx'), xml('pk', { id: '2' }, 'cGsy')),
  );
const items = (p: Peer, node: string, to: string, ids: string[] = []) =>
  p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node }, ...ids.map((id) => xml('item', { id })))), to);

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of ['romeo', 'stranger']) await srv.addUser(u, u + 'pw');
  romeo = await connect(srv, 'romeo');
  stranger = await connect(srv, 'stranger');
});

afterAll(async () => {
  await srv?.stop();
});

describe('first-contact OMEMO', () => {
  it('legacy axolotl: a stranger fetches the device list and a bundle', async () => {
    await romeo.c.iqCaller.set(publishIq(`${AX}.devicelist`, xml('list', { xmlns: AX }, xml('device', { id: '1001' }), xml('device', { id: '1002' })), 'current', OPEN));
    await romeo.c.iqCaller.set(publishIq(`${AX}.bundles:1001`, axBundle('1001'), 'current', OPEN));
    const list = await items(stranger, `${AX}.devicelist`, J('romeo'));
    const devices = list.getChild('items').getChild('item').getChild('list', AX).getChildren('device').map((d: any) => d.attrs.id);
    expect(devices).toEqual(['1001', '1002']);
    const bundle = await items(stranger, `${AX}.bundles:1001`, J('romeo'));
    const b = bundle.getChild('items').getChild('item').getChild('bundle', AX);
    expect(b.getChildText('identityKey')).toBe('aWs1001');
    expect(b.getChild('prekeys').getChildren('preKeyPublic')).toHaveLength(2);
  });

  it('OMEMO 2: a stranger fetches the device list and one bundle by id', async () => {
    await romeo.c.iqCaller.set(publishIq(`${O2}:devices`, xml('devices', { xmlns: O2 }, xml('device', { id: '2001', label: 'phone' }), xml('device', { id: '2002' })), 'current', OPEN));
    const bundleOpts = { ...OPEN, 'pubsub#max_items': 'max' };
    await romeo.c.iqCaller.set(publishIq(`${O2}:bundles`, o2Bundle('2001'), '2001', bundleOpts));
    await romeo.c.iqCaller.set(publishIq(`${O2}:bundles`, o2Bundle('2002'), '2002', bundleOpts));
    const list = await items(stranger, `${O2}:devices`, J('romeo'));
    const devs = list.getChild('items').getChild('item').getChild('devices', O2).getChildren('device');
    expect(devs.map((d: any) => d.attrs.id)).toEqual(['2001', '2002']);
    expect(devs[0].attrs.label).toBe('phone');
    const one = await items(stranger, `${O2}:bundles`, J('romeo'), ['2002']);
    const its = one.getChild('items').getChildren('item');
    expect(its.map((i: any) => i.attrs.id)).toEqual(['2002']);
    expect(its[0].getChild('bundle', O2).getChildText('ik')).toBe('aWs2002');
    // Both bundles stay: max_items max.
    const all = await items(stranger, `${O2}:bundles`, J('romeo'));
    expect(all.getChild('items').getChildren('item')).toHaveLength(2);
  });

  it('a stranger cannot publish into those nodes', async () => {
    const e = await iqError(stranger.c.iqCaller.set(publishIq(`${O2}:devices`, xml('devices', { xmlns: O2 }, xml('device', { id: '666' })), 'current'), J('romeo')));
    expect(e.condition).toBe('forbidden');
    const list = await items(stranger, `${O2}:devices`, J('romeo'));
    expect(list.getChild('items').getChild('item').getChild('devices', O2).getChildren('device')).toHaveLength(2);
  });

  it('an old device list with the default (presence) access is refused to strangers until the client opens it', async () => {
    await srv.addUser('juliet', 'julietpw');
    const juliet = await connect(srv, 'juliet');
    // An older client published without publish-options: presence access.
    await juliet.c.iqCaller.set(publishIq(`${AX}.devicelist`, xml('list', { xmlns: AX }, xml('device', { id: '7' })), 'current'));
    expect(await iqError(items(stranger, `${AX}.devicelist`, J('juliet')))).toMatchObject({ condition: 'not-authorized', app: 'presence-subscription-required' });
    // Conversations: publish with access_model open -> precondition-not-met -> configure -> publish again.
    const e = await iqError(juliet.c.iqCaller.set(publishIq(`${AX}.devicelist`, xml('list', { xmlns: AX }, xml('device', { id: '7' }), xml('device', { id: '8' })), 'current', OPEN)));
    expect(e).toMatchObject({ condition: 'conflict', app: 'precondition-not-met' });
    await juliet.c.iqCaller.set(
      xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node: `${AX}.devicelist` }, form('http://jabber.org/protocol/pubsub#node_config', OPEN))),
    );
    await juliet.c.iqCaller.set(publishIq(`${AX}.devicelist`, xml('list', { xmlns: AX }, xml('device', { id: '7' }), xml('device', { id: '8' })), 'current', OPEN));
    const list = await items(stranger, `${AX}.devicelist`, J('juliet'));
    expect(list.getChild('items').getChild('item').getChild('list', AX).getChildren('device').map((d: any) => d.attrs.id)).toEqual(['7', '8']);
  });

  it("a stranger's directed presence with devicelist+notify gets the open list pushed, and later updates", async () => {
    await announce(stranger, [`${AX}.devicelist+notify`], { to: J('romeo') });
    const ev = await stranger.inbox.wait(isEvent(`${AX}.devicelist`, J('romeo')));
    expect(ev.getChild('addresses')).toBeUndefined();
    await romeo.c.iqCaller.set(publishIq(`${AX}.devicelist`, xml('list', { xmlns: AX }, xml('device', { id: '1001' })), 'current', OPEN));
    const upd = await stranger.inbox.wait(isEvent(`${AX}.devicelist`, J('romeo')));
    expect(upd.toString()).toContain("1001");
    expect(upd.toString()).not.toContain('1002');
  });
});
