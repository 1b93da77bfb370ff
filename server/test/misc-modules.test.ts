// XEP-0199 ping, XEP-0092 version, XEP-0202 time, XEP-0012 last activity.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { errCondition } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let alice: any;
let domain: string;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  await srv.addUser('alice', 'alicepw');
  await srv.addUser('bob', 'bobpw');
  await srv.addUser('carol', 'carolpw');
  alice = await srv.client('alice', 'alicepw');
});

afterAll(async () => {
  await srv?.stop();
});

function waitFor(c: any, pred: (s: any) => boolean, ms = 5000): Promise<any> {
  const where = new Error().stack?.split('\n')[2]?.trim();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      c.removeListener('stanza', on);
      reject(new Error('timeout waiting for stanza at ' + where));
    }, ms);
    const on = (s: any) => {
      if (pred(s)) {
        clearTimeout(t);
        c.removeListener('stanza', on);
        resolve(s);
      }
    };
    c.on('stanza', on);
  });
}

describe('ping (XEP-0199)', () => {
  it('the server answers pings to its domain and keepalive pings without to', async () => {
    const r = await alice.iqCaller.request(xml('iq', { type: 'get', to: domain }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(r.attrs.type).toBe('result');
    const r2 = await alice.iqCaller.request(xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(r2.attrs.type).toBe('result');
  });

  it('a ping to another user\'s bare JID is not answered for them', async () => {
    const p = alice.iqCaller.request(xml('iq', { type: 'get', to: `bob@${domain}` }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
    expect(await errCondition(p)).toBe('service-unavailable');
  });
});

describe('version (XEP-0092)', () => {
  it('name Roost, a version, no OS by default', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: 'jabber:iq:version' }), domain);
    expect(q.getChildText('name')).toBe('Roost');
    expect(q.getChildText('version')).toMatch(/^\d+\.\d+\.\d+/);
    expect(q.getChild('os')).toBeUndefined();
  });
});

describe('time (XEP-0202)', () => {
  it('UTC time near now', async () => {
    const t = await alice.iqCaller.get(xml('time', { xmlns: 'urn:xmpp:time' }), domain);
    expect(t.getChildText('tzo')).toBe('+00:00');
    const utc = t.getChildText('utc');
    expect(utc).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    expect(Math.abs(Date.parse(utc) - Date.now())).toBeLessThan(5000);
  });
});

describe('last activity (XEP-0012)', () => {
  it('server uptime on the domain', async () => {
    const q = await alice.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), domain);
    const s = Number(q.attrs.seconds);
    expect(Number.isInteger(s)).toBe(true);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(s).toBeLessThan(600);
  });

  it('a subscribed contact learns seconds since logout; a stranger is forbidden', async () => {
    const bob = await srv.client('bob', 'bobpw');
    const carol = await srv.client('carol', 'carolpw');
    // alice is online (available presence): requests are delivered to available resources
    // only (RFC 6121 §3.1.3). bob subscribes; alice approves, so her roster has bob with 'from'
    // and bob gets her current presence (§3.1.5).
    await alice.send(xml('presence'));
    await bob.send(xml('presence'));
    const asked = waitFor(alice, (s) => s.is('presence') && s.attrs.type === 'subscribe');
    await bob.send(xml('presence', { to: `alice@${domain}`, type: 'subscribe' }));
    await asked;
    const approved = waitFor(bob, (s) => s.is('presence') && s.attrs.type === 'subscribed');
    const sees = waitFor(bob, (s) => s.is('presence') && !s.attrs.type && String(s.attrs.from).startsWith(`alice@${domain}/`));
    await alice.send(xml('presence', { to: `bob@${domain}`, type: 'subscribed' }));
    await approved;
    await sees;

    // Online: 0 seconds.
    const online = await bob.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), `alice@${domain}`);
    expect(online.attrs.seconds).toBe('0');

    const gone = waitFor(bob, (s) => s.is('presence') && s.attrs.type === 'unavailable');
    await alice.send(xml('presence', { type: 'unavailable' }, xml('status', {}, 'gone fishing')));
    await alice.stop();
    await gone;
    await new Promise((r) => setTimeout(r, 1100));
    const q = await bob.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), `alice@${domain}`);
    const s = Number(q.attrs.seconds);
    expect(s).toBeGreaterThanOrEqual(1);
    expect(s).toBeLessThan(30);

    expect(await errCondition(carol.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), `alice@${domain}`))).toBe('forbidden');
    // The same for an account that does not exist (no account enumeration).
    expect(await errCondition(carol.iqCaller.get(xml('query', { xmlns: 'jabber:iq:last' }), `nobody-here@${domain}`))).toBe('forbidden');
    await bob.stop();
    await carol.stop();
  });
});
