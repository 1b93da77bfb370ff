// XEP-0030 disco#info/#items on the server and on accounts, XEP-0115 caps in stream features.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { capsHash, capsVerificationString } from '../src/modules/disco.js';
import { startTestServer } from './helpers/server.js';
import { errCondition } from './helpers/im.js';

const INFO = 'http://jabber.org/protocol/disco#info';
const ITEMS = 'http://jabber.org/protocol/disco#items';
const CAPS = 'http://jabber.org/protocol/caps';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let alice: any;
let bob: any;
let domain: string;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  await srv.addUser('alice', 'alicepw');
  await srv.addUser('bob', 'bobpw');
  alice = await srv.client('alice', 'alicepw');
  bob = await srv.client('bob', 'bobpw');
});

afterAll(async () => {
  await srv?.stop();
});

/** Recomputes the XEP-0115 ver from a disco#info <query/> (as a client would). */
function verOf(query: any): string {
  const identities = query.getChildren('identity').map((i: any) => ({
    category: i.attrs.category,
    type: i.attrs.type,
    lang: i.attrs['xml:lang'],
    name: i.attrs.name,
  }));
  const features = query.getChildren('feature').map((f: any) => f.attrs.var);
  // Rebuild forms as Roost elements through the text form: the helper parses either shape.
  const forms = query.getChildren('x', 'jabber:x:data').map((x: any) => toRoost(x));
  return capsHash(capsVerificationString(identities, features, forms));
}

import { Element } from '../src/xml/element.js';
function toRoost(el: any): Element {
  return new Element(
    el.name,
    { ...el.attrs },
    el.children.map((c: any) => (typeof c === 'string' ? c : toRoost(c))),
  );
}

describe('disco on the server', () => {
  it('disco#info lists identity server/im and the features of loaded modules', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: INFO }), domain);
    const ids = q.getChildren('identity').map((i: any) => `${i.attrs.category}/${i.attrs.type}`);
    expect(ids).toContain('server/im');
    const features = q.getChildren('feature').map((f: any) => f.attrs.var);
    for (const f of [INFO, ITEMS, 'urn:xmpp:ping', 'jabber:iq:version', 'urn:xmpp:time', 'jabber:iq:last', 'vcard-temp']) {
      expect(features).toContain(f);
    }
    // No duplicates: XEP-0030 §3.1 and the caps hash both require unique features.
    expect(new Set(features).size).toBe(features.length);
  });

  it('disco#items answers (a list, possibly empty)', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: ITEMS }), domain);
    expect(q.attrs.xmlns).toBe(ITEMS);
  });

  it('unknown node: item-not-found', async () => {
    expect(await errCondition(alice.iqCaller.get(xml('query', { xmlns: INFO, node: 'nope' }), domain))).toBe('item-not-found');
    expect(await errCondition(alice.iqCaller.get(xml('query', { xmlns: ITEMS, node: 'nope' }), domain))).toBe('item-not-found');
  });

  it('caps in stream features match the disco#info answer, and node#ver answers', async () => {
    const c = await srv.streamFeatures();
    const caps = c.getChild('c', CAPS);
    expect(caps).toBeDefined();
    expect(caps.attrs.hash).toBe('sha-1');
    const q = await alice.iqCaller.get(xml('query', { xmlns: INFO }), domain);
    expect(caps.attrs.ver).toBe(verOf(q));
    const node = `${caps.attrs.node}#${caps.attrs.ver}`;
    const q2 = await alice.iqCaller.get(xml('query', { xmlns: INFO, node }), domain);
    expect(q2.attrs.node).toBe(node);
    expect(verOf(q2)).toBe(caps.attrs.ver);
    // Stable across streams.
    const again = (await srv.streamFeatures()).getChild('c', CAPS);
    expect(again.attrs.ver).toBe(caps.attrs.ver);
  });
});

describe('disco on accounts', () => {
  it('own account: identity account/registered', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: INFO }), `alice@${domain}`);
    const ids = q.getChildren('identity').map((i: any) => `${i.attrs.category}/${i.attrs.type}`);
    expect(ids).toContain('account/registered');
    const noTo = await alice.iqCaller.get(xml('query', { xmlns: INFO }));
    expect(noTo.getChildren('identity').map((i: any) => i.attrs.category)).toContain('account');
  });

  it('another existing account: answered by the server; items empty', async () => {
    const q = await bob.iqCaller.get(xml('query', { xmlns: INFO }), `alice@${domain}`);
    expect(q.getChildren('identity').map((i: any) => `${i.attrs.category}/${i.attrs.type}`)).toContain('account/registered');
    const items = await bob.iqCaller.get(xml('query', { xmlns: ITEMS }), `alice@${domain}`);
    expect(items.getChildren('item')).toHaveLength(0);
  });

  it('unknown account: service-unavailable; unknown node: item-not-found', async () => {
    expect(await errCondition(bob.iqCaller.get(xml('query', { xmlns: INFO }), `nobody@${domain}`))).toBe('service-unavailable');
    expect(await errCondition(bob.iqCaller.get(xml('query', { xmlns: INFO, node: 'x' }), `alice@${domain}`))).toBe('item-not-found');
  });
});
