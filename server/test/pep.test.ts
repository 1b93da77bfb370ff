// XEP-0163 PEP with the XEP-0060 subset clients use: publish with auto-create, item ids,
// max_items, items (all / by id / newest N), retract, publish-options preconditions, 'max',
// node configuration, create, delete, purge, access models against strangers and contacts,
// explicit subscriptions, affiliations (whitelist), disco of nodes, bad requests, and items
// surviving a restart (or not, with persist_items false).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import {
  DISCO_INFO,
  DISCO_ITEMS,
  PUBSUB,
  PUBSUB_EVENT,
  PUBSUB_OWNER,
  announce,
  befriend,
  connect,
  form,
  formFields,
  iqError,
  isEvent,
  publishIq,
  type Peer,
} from './helpers/pep.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;
let alice: Peer;
let bob: Peer;
let mallory: Peer;
const J = (u: string) => `${u}@${domain}`;
const NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';

const items = (p: Peer, node: string, to?: string, attrs: Record<string, string> = {}, ids: string[] = []) =>
  p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('items', { node, ...attrs }, ...ids.map((id) => xml('item', { id })))), to);
const ids = (res: any) => res.getChild('items').getChildren('item').map((i: any) => i.attrs.id);
const note = (text: string) => xml('note', { xmlns: 'urn:test:note' }, text);
const configure = (p: Peer, node: string, fields: Record<string, string | string[]>) =>
  p.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node }, form(NODE_CONFIG, fields))));
const getConfig = async (p: Peer, node: string) =>
  formFields((await p.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node })))).getChild('configure').getChild('x'));

beforeAll(async () => {
  srv = await startTestServer({ modules: { pep: { maxItemSize: 64 * 1024 } } });
  domain = srv.host;
  for (const u of ['alice', 'bob', 'mallory']) await srv.addUser(u, u + 'pw');
  alice = await connect(srv, 'alice');
  bob = await connect(srv, 'bob');
  mallory = await connect(srv, 'mallory');
  await befriend(alice, bob);
});

afterAll(async () => {
  await srv?.stop();
});

describe('publish and retrieve', () => {
  it('auto-creates the node, generates an id, and keeps one item by default', async () => {
    const r = await alice.c.iqCaller.set(publishIq('urn:test:mood', note('happy')));
    const id = r.getChild('publish').getChild('item').attrs.id;
    expect(id).toMatch(/.{8,}/);
    await alice.c.iqCaller.set(publishIq('urn:test:mood', note('sad'), 'second'));
    const got = await items(alice, 'urn:test:mood');
    expect(ids(got)).toEqual(['second']);
    expect(got.getChild('items').getChild('item').getChild('note', 'urn:test:note').text()).toBe('sad');
  });

  it('max_items N keeps the newest N; same id replaces; by id and newest-N retrieval', async () => {
    const opts = { 'pubsub#max_items': '3' };
    for (const id of ['a', 'b', 'c', 'd']) await alice.c.iqCaller.set(publishIq('urn:test:list', note(id), id, opts));
    expect(ids(await items(alice, 'urn:test:list'))).toEqual(['b', 'c', 'd']);
    await alice.c.iqCaller.set(publishIq('urn:test:list', note('b2'), 'b', opts));
    expect(ids(await items(alice, 'urn:test:list'))).toEqual(['c', 'd', 'b']);
    expect(ids(await items(alice, 'urn:test:list', undefined, { max_items: '2' }))).toEqual(['d', 'b']);
    const one = await items(alice, 'urn:test:list', undefined, {}, ['c', 'nope']);
    expect(ids(one)).toEqual(['c']);
  });

  it('retract removes an item; a missing item or node is item-not-found', async () => {
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('retract', { node: 'urn:test:list' }, xml('item', { id: 'c' }))));
    expect(ids(await items(alice, 'urn:test:list'))).toEqual(['d', 'b']);
    const again = await iqError(alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('retract', { node: 'urn:test:list' }, xml('item', { id: 'c' })))));
    expect(again.condition).toBe('item-not-found');
    expect((await iqError(items(alice, 'urn:test:none'))).condition).toBe('item-not-found');
  });

  it('config-node-max: max_items "max" is accepted and means the server limit', async () => {
    await alice.c.iqCaller.set(publishIq('urn:test:many', note('1'), '1', { 'pubsub#max_items': 'max' }));
    for (let i = 2; i <= 20; i++) await alice.c.iqCaller.set(publishIq('urn:test:many', note(String(i)), String(i)));
    expect(ids(await items(alice, 'urn:test:many'))).toHaveLength(20);
    expect((await getConfig(alice, 'urn:test:many'))['pubsub#max_items']).toEqual(['max']);
    // The same precondition again holds.
    await alice.c.iqCaller.set(publishIq('urn:test:many', note('21'), '21', { 'pubsub#max_items': 'max' }));
  });

  it('bad publishes are refused with the XEP-0060 conditions, and change nothing', async () => {
    const two = xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node: 'urn:test:mood' }, xml('item', {}, note('x'), note('y'))));
    expect(await iqError(alice.c.iqCaller.set(two))).toMatchObject({ condition: 'bad-request', app: 'invalid-payload' });
    const empty = xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node: 'urn:test:mood' }, xml('item', {})));
    expect(await iqError(alice.c.iqCaller.set(empty))).toMatchObject({ condition: 'bad-request', app: 'item-required' });
    const noNode = xml('pubsub', { xmlns: PUBSUB }, xml('publish', {}, xml('item', {}, note('x'))));
    expect(await iqError(alice.c.iqCaller.set(noNode))).toMatchObject({ condition: 'bad-request', app: 'nodeid-required' });
    expect((await iqError(items(alice, 'urn:test:mood', undefined, { max_items: 'lots' }))).condition).toBe('bad-request');
    const big = xml('data', { xmlns: 'urn:test:big' }, 'x'.repeat(100 * 1024));
    expect(await iqError(alice.c.iqCaller.set(publishIq('urn:test:big', big)))).toMatchObject({ condition: 'not-acceptable' });
    expect(ids(await items(alice, 'urn:test:mood'))).toEqual(['second']);
  });

  it('only the owner publishes, configures, deletes', async () => {
    expect((await iqError(bob.c.iqCaller.set(publishIq('urn:test:mood', note('evil')), J('alice')))).condition).toBe('forbidden');
    expect((await iqError(bob.c.iqCaller.set(publishIq('urn:test:fresh', note('evil')), J('alice')))).condition).toBe('item-not-found');
    const del = xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('delete', { node: 'urn:test:mood' }));
    expect((await iqError(bob.c.iqCaller.set(del, J('alice')))).condition).toBe('forbidden');
    expect(ids(await items(alice, 'urn:test:mood'))).toEqual(['second']);
  });
});

describe('publish-options preconditions (XEP-0060 §7.1.5)', () => {
  it('creates the node with the options; a mismatch later is precondition-not-met and publishes nothing', async () => {
    await alice.c.iqCaller.set(publishIq('urn:test:po', note('1'), '1', { 'pubsub#access_model': 'open', 'pubsub#persist_items': 'true' }));
    const cfg = await getConfig(alice, 'urn:test:po');
    expect(cfg['pubsub#access_model']).toEqual(['open']);
    // "1" and "true" are the same boolean.
    await alice.c.iqCaller.set(publishIq('urn:test:po', note('2'), '2', { 'pubsub#access_model': 'open', 'pubsub#persist_items': '1' }));
    const e = await iqError(alice.c.iqCaller.set(publishIq('urn:test:po', note('3'), '3', { 'pubsub#access_model': 'whitelist' })));
    expect(e).toMatchObject({ condition: 'conflict', app: 'precondition-not-met', type: 'cancel' });
    const unknown = await iqError(alice.c.iqCaller.set(publishIq('urn:test:po', note('4'), '4', { 'pubsub#frobnicate': '1' })));
    expect(unknown).toMatchObject({ condition: 'conflict', app: 'precondition-not-met' });
    const tooMany = await iqError(alice.c.iqCaller.set(publishIq('urn:test:po2', note('1'), '1', { 'pubsub#max_items': '100000' })));
    expect(tooMany).toMatchObject({ condition: 'conflict', app: 'precondition-not-met' });
    expect(ids(await items(alice, 'urn:test:po'))).toEqual(['2']);
    expect((await iqError(items(alice, 'urn:test:po2'))).condition).toBe('item-not-found');
  });

  it('after reconfiguring, the same publish succeeds (what clients do on precondition-not-met)', async () => {
    await configure(alice, 'urn:test:po', { 'pubsub#access_model': 'whitelist' });
    await alice.c.iqCaller.set(publishIq('urn:test:po', note('3'), '3', { 'pubsub#access_model': 'whitelist' }));
    expect(ids(await items(alice, 'urn:test:po'))).toEqual(['3']);
  });
});

describe('node configuration and owner use cases', () => {
  it('configure form has the XEP-0060 fields; bad values are not-acceptable; cancel changes nothing', async () => {
    const cfg = await getConfig(alice, 'urn:test:list');
    for (const f of ['pubsub#max_items', 'pubsub#persist_items', 'pubsub#access_model', 'pubsub#send_last_published_item', 'pubsub#notify_retract', 'pubsub#deliver_payloads', 'pubsub#publish_model']) {
      expect(cfg[f], f).toBeDefined();
    }
    expect(cfg['pubsub#max_items']).toEqual(['3']);
    expect(cfg['pubsub#access_model']).toEqual(['presence']);
    expect(cfg['pubsub#send_last_published_item']).toEqual(['on_sub_and_presence']);
    expect((await iqError(configure(alice, 'urn:test:list', { 'pubsub#access_model': 'everyone' }))).condition).toBe('not-acceptable');
    expect((await iqError(configure(alice, 'urn:test:list', { 'pubsub#max_items': '-1' }))).condition).toBe('not-acceptable');
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node: 'urn:test:list' }, xml('x', { xmlns: 'jabber:x:data', type: 'cancel' }))));
    expect((await getConfig(alice, 'urn:test:list'))['pubsub#access_model']).toEqual(['presence']);
  });

  it('shrinking max_items drops the oldest items', async () => {
    await configure(alice, 'urn:test:list', { 'pubsub#max_items': '1' });
    expect(ids(await items(alice, 'urn:test:list'))).toEqual(['b']);
  });

  it('default form, create (conflict when it exists), create-and-configure', async () => {
    const def = await alice.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('default')));
    expect(formFields(def.getChild('default').getChild('x'))['pubsub#access_model']).toEqual(['presence']);
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('create', { node: 'urn:test:made' }), xml('configure', {}, form(NODE_CONFIG, { 'pubsub#access_model': 'open', 'pubsub#max_items': '5' }))));
    const cfg = await getConfig(alice, 'urn:test:made');
    expect(cfg['pubsub#access_model']).toEqual(['open']);
    expect(cfg['pubsub#max_items']).toEqual(['5']);
    expect((await iqError(alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('create', { node: 'urn:test:made' }))))).condition).toBe('conflict');
    const instant = await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('create')));
    expect(instant.getChild('create').attrs.node).toMatch(/.+/);
  });

  it('purge and delete notify the owner resource that asked for the node', async () => {
    await announce(alice, ['urn:test:made+notify']);
    await alice.inbox.wait((s) => s.name === 'presence' && s.attrs.from === alice.jid);
    await alice.c.iqCaller.set(publishIq('urn:test:made', note('x'), 'x'));
    await alice.inbox.wait(isEvent('urn:test:made', J('alice')));
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('purge', { node: 'urn:test:made' })));
    const purge = await alice.inbox.wait(isEvent('urn:test:made'));
    expect(purge.getChild('event', PUBSUB_EVENT).getChild('purge')).toBeDefined();
    expect(await items(alice, 'urn:test:made').then(ids)).toEqual([]);
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('delete', { node: 'urn:test:made' })));
    const del = await alice.inbox.wait(isEvent('urn:test:made'));
    expect(del.getChild('event', PUBSUB_EVENT).getChild('delete').attrs.node).toBe('urn:test:made');
    expect((await iqError(items(alice, 'urn:test:made'))).condition).toBe('item-not-found');
  });
});

describe('access models', () => {
  beforeAll(async () => {
    await alice.c.iqCaller.set(publishIq('urn:test:presence', note('p'), 'p'));
    await alice.c.iqCaller.set(publishIq('urn:test:open', note('o'), 'o', { 'pubsub#access_model': 'open' }));
    await alice.c.iqCaller.set(publishIq('urn:test:white', note('w'), 'w', { 'pubsub#access_model': 'whitelist' }));
  });

  it('presence: contacts read, strangers get not-authorized/presence-subscription-required', async () => {
    expect(ids(await items(bob, 'urn:test:presence', J('alice')))).toEqual(['p']);
    expect(await iqError(items(mallory, 'urn:test:presence', J('alice')))).toMatchObject({ condition: 'not-authorized', app: 'presence-subscription-required', type: 'auth' });
  });

  it('open: anyone reads', async () => {
    expect(ids(await items(mallory, 'urn:test:open', J('alice')))).toEqual(['o']);
  });

  it('whitelist: even contacts get not-allowed/closed-node until made members', async () => {
    expect(await iqError(items(bob, 'urn:test:white', J('alice')))).toMatchObject({ condition: 'not-allowed', app: 'closed-node' });
    expect(await iqError(items(mallory, 'urn:test:white', J('alice')))).toMatchObject({ condition: 'not-allowed', app: 'closed-node' });
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('affiliations', { node: 'urn:test:white' }, xml('affiliation', { jid: J('mallory'), affiliation: 'member' }))));
    expect(ids(await items(mallory, 'urn:test:white', J('alice')))).toEqual(['w']);
    const affs = await alice.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('affiliations', { node: 'urn:test:white' })));
    expect(affs.getChild('affiliations').getChildren('affiliation').map((a: any) => `${a.attrs.jid}=${a.attrs.affiliation}`).sort()).toEqual([`${J('alice')}=owner`, `${J('mallory')}=member`]);
    await alice.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('affiliations', { node: 'urn:test:white' }, xml('affiliation', { jid: J('mallory'), affiliation: 'outcast' }))));
    expect((await iqError(items(mallory, 'urn:test:white', J('alice')))).condition).toBe('forbidden');
  });

  it('roster: only contacts in an allowed group', async () => {
    await alice.c.iqCaller.set(publishIq('urn:test:roster', note('r'), 'r'));
    await configure(alice, 'urn:test:roster', { 'pubsub#access_model': 'roster', 'pubsub#roster_groups_allowed': ['Family'] });
    expect(await iqError(items(bob, 'urn:test:roster', J('alice')))).toMatchObject({ condition: 'not-authorized', app: 'not-in-roster-group' });
    await alice.c.iqCaller.set(xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: J('bob') }, xml('group', {}, 'Family'))));
    expect(ids(await items(bob, 'urn:test:roster', J('alice')))).toEqual(['r']);
  });

  it('a request to an account that does not exist: service-unavailable', async () => {
    expect((await iqError(items(bob, 'urn:test:open', J('nobody')))).condition).toBe('service-unavailable');
  });
});

describe('explicit subscriptions', () => {
  it('a stranger subscribes to an open node, gets the last item, then every publication; unsubscribe stops it', async () => {
    const sub = await mallory.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('subscribe', { node: 'urn:test:open', jid: mallory.jid })), J('alice'));
    expect(sub.getChild('subscription').attrs.subscription).toBe('subscribed');
    const last = await mallory.inbox.wait(isEvent('urn:test:open', J('alice')));
    expect(last.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    // No replyto address for someone without a presence subscription (XEP-0163 §4.3.1).
    await alice.c.iqCaller.set(publishIq('urn:test:open', note('o2'), 'o2'));
    const ev = await mallory.inbox.wait(isEvent('urn:test:open', J('alice')));
    expect(ev.getChild('event', PUBSUB_EVENT).getChild('items').getChild('item').attrs.id).toBe('o2');
    expect(ev.getChild('addresses')).toBeUndefined();
    const subs = await mallory.c.iqCaller.get(xml('pubsub', { xmlns: PUBSUB }, xml('subscriptions')), J('alice'));
    expect(subs.getChild('subscriptions').getChildren('subscription').map((s: any) => s.attrs.node)).toEqual(['urn:test:open']);
    await mallory.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('unsubscribe', { node: 'urn:test:open', jid: mallory.jid })), J('alice'));
    await alice.c.iqCaller.set(publishIq('urn:test:open', note('o3'), 'o3'));
    await mallory.inbox.none(isEvent('urn:test:open'));
  });

  it('subscribing someone else, or to a presence node as a stranger, is refused', async () => {
    expect(await iqError(mallory.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('subscribe', { node: 'urn:test:open', jid: bob.jid })), J('alice')))).toMatchObject({ condition: 'bad-request', app: 'invalid-jid' });
    expect(await iqError(mallory.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('subscribe', { node: 'urn:test:presence', jid: mallory.jid })), J('alice')))).toMatchObject({ condition: 'not-authorized', app: 'presence-subscription-required' });
    expect(await iqError(mallory.c.iqCaller.set(xml('pubsub', { xmlns: PUBSUB }, xml('unsubscribe', { node: 'urn:test:open', jid: mallory.jid })), J('alice')))).toMatchObject({ condition: 'unexpected-request', app: 'not-subscribed' });
  });
});

describe('service discovery', () => {
  it('the account advertises pubsub/pep and the features clients check', async () => {
    const info = await alice.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), J('alice'));
    expect(info.getChildren('identity').some((i: any) => i.attrs.category === 'pubsub' && i.attrs.type === 'pep')).toBe(true);
    const features = info.getChildren('feature').map((f: any) => f.attrs.var);
    for (const f of ['publish', 'publish-options', 'config-node-max', 'auto-create', 'persistent-items', 'retrieve-items', 'multi-items', 'item-ids', 'delete-items', 'delete-nodes', 'create-nodes', 'subscribe', 'access-whitelist', 'filtered-notifications']) {
      expect(features, f).toContain(`${PUBSUB}#${f}`);
    }
  });

  it('disco#items lists the nodes the asker may see; node info carries meta-data', async () => {
    const mine = await alice.c.iqCaller.get(xml('query', { xmlns: DISCO_ITEMS }), J('alice'));
    const myNodes = mine.getChildren('item').map((i: any) => i.attrs.node);
    expect(myNodes).toEqual(expect.arrayContaining(['urn:test:open', 'urn:test:white', 'urn:test:presence']));
    const theirs = await mallory.c.iqCaller.get(xml('query', { xmlns: DISCO_ITEMS }), J('alice'));
    const seen = theirs.getChildren('item').map((i: any) => i.attrs.node);
    expect(seen).toContain('urn:test:open');
    expect(seen).not.toContain('urn:test:presence');
    expect(seen).not.toContain('urn:test:white');
    const node = await mallory.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO, node: 'urn:test:open' }), J('alice'));
    expect(node.getChild('identity').attrs).toMatchObject({ category: 'pubsub', type: 'leaf' });
    expect(formFields(node.getChild('x'))['pubsub#access_model']).toEqual(['open']);
    expect((await iqError(mallory.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO, node: 'urn:test:presence' }), J('alice')))).condition).toBe('item-not-found');
  });
});

describe('bad requests', () => {
  it('malformed pubsub requests get clear errors and the server keeps answering', async () => {
    const set = (el: any, to?: string) => iqError(alice.c.iqCaller.set(el, to));
    const get = (el: any, to?: string) => iqError(alice.c.iqCaller.get(el, to));
    expect((await set(xml('pubsub', { xmlns: PUBSUB }))).condition).toBe('bad-request');
    expect(await get(xml('pubsub', { xmlns: PUBSUB }, xml('items')))).toMatchObject({ condition: 'bad-request', app: 'nodeid-required' });
    expect((await set(xml('pubsub', { xmlns: PUBSUB }, xml('publish', { node: 'a' }, xml('item', {}, note('1'))), xml('retract', { node: 'a' }, xml('item', { id: '1' }))))).condition).toBe('bad-request');
    expect(await set(xml('pubsub', { xmlns: PUBSUB }, xml('frobnicate', { node: 'a' })))).toMatchObject({ condition: 'feature-not-implemented', app: 'unsupported' });
    expect((await set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('frobnicate', { node: 'a' })))).condition).toBe('feature-not-implemented');
    expect((await set(xml('pubsub', { xmlns: PUBSUB }, xml('subscribe', { node: 'urn:test:open' })), J('alice'))).condition).toBe('bad-request');
    const wrongType = xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('configure', { node: 'urn:test:open' }, form('urn:other', { 'pubsub#max_items': '2' })));
    expect((await set(wrongType)).condition).toBe('bad-request');
    const badAff = xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('affiliations', { node: 'urn:test:open' }, xml('affiliation', { jid: J('bob'), affiliation: 'emperor' })));
    expect((await set(badAff)).condition).toBe('bad-request');
    expect((await set(xml('pubsub', { xmlns: PUBSUB_OWNER }, xml('affiliations', { node: 'urn:test:open' }, xml('affiliation', { jid: J('alice'), affiliation: 'none' }))))).condition).toBe('not-acceptable');
    const longNode = 'n'.repeat(2000);
    expect((await set(publishIq(longNode, note('x')))).condition).toBe('not-acceptable');
    await alice.c.iqCaller.get(xml('ping', { xmlns: 'urn:xmpp:ping' }));
  });
});

describe('persistence', () => {
  it('persistent items survive a restart; persist_items false items do not', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'roost-pep-'));
    try {
      const one = await startTestServer({ dataDir });
      await one.addUser('alice', 'alicepw');
      const a1 = await connect(one, 'alice');
      await a1.c.iqCaller.set(publishIq('urn:test:kept', note('k'), 'k'));
      await a1.c.iqCaller.set(publishIq('urn:test:volatile', note('v'), 'v', { 'pubsub#persist_items': 'false' }));
      expect(ids(await items(a1, 'urn:test:volatile'))).toEqual(['v']);
      await one.stop();
      const two = await startTestServer({ dataDir });
      try {
        const a2 = await connect(two, 'alice');
        expect(ids(await items(a2, 'urn:test:kept'))).toEqual(['k']);
        expect(ids(await items(a2, 'urn:test:volatile'))).toEqual([]);
        expect((await getConfig(a2, 'urn:test:volatile'))['pubsub#persist_items']).toEqual(['0']);
      } finally {
        await two.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
