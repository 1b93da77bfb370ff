// XEP-0215 External Service Discovery with coturn use-auth-secret credentials, and XEP-0157
// contact addresses in the server's disco#info, over real sockets.
// The expected TURN password is computed here with node:crypto from the shared secret, the way
// coturn checks it (RFC 7635-style "TURN REST API"): base64(HMAC-SHA1(secret, "expiry:user")).
import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { DATA, DISCO_INFO, errorOf, online } from './helpers/im.js';

const EXT = 'urn:xmpp:extdisco:2';
const SECRET = 'coturn-shared-secret-Ω';
type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;

beforeAll(async () => {
  srv = await startTestServer({
    turn: { enabled: true, host: 'turn.example.org', port: 3478, tlsPort: 5349, secret: SECRET, ttl: 3600 },
    admins: ['boss@localhost'],
    contact: { abuse: ['mailto:abuse@example.org', 'xmpp:abuse@localhost'], security: ['https://example.org/security'] },
  } as never);
  await srv.addUser('alice', 'alicepw');
}, 30_000);

afterAll(async () => {
  await srv?.stop();
});

const services = async (c: any, type?: string) => (await c.iqCaller.get(xml('services', { xmlns: EXT, type }), srv.host)).getChildren('service');

describe('external service discovery', () => {
  it('offers STUN and TURN over UDP and TCP, and TURNS; TURN entries carry credentials coturn accepts', async () => {
    const alice = await online(srv, 'alice', 'r');
    const f = (await alice.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), srv.host)).getChildren('feature').map((x: any) => x.attrs.var);
    expect(f).toContain(EXT);
    const before = Math.floor(Date.now() / 1000);
    const list = await services(alice.c);
    const key = (s: any) => `${s.attrs.type}/${s.attrs.transport}/${s.attrs.port}`;
    expect(list.map(key).sort()).toEqual(['stun/tcp/3478', 'stun/udp/3478', 'turn/tcp/3478', 'turn/udp/3478', 'turns/tcp/5349']);
    for (const s of list) {
      expect(s.attrs.host).toBe('turn.example.org');
      if (s.attrs.type === 'stun') {
        expect(s.attrs.username).toBeUndefined();
        continue;
      }
      expect(s.attrs.restricted).toBe('true');
      const [expiry, user] = s.attrs.username.split(/:(.*)/s);
      expect(user).toBe(alice.bare);
      expect(Number(expiry)).toBeGreaterThanOrEqual(before + 3600);
      expect(Number(expiry)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
      expect(s.attrs.password).toBe(createHmac('sha1', Buffer.from(SECRET, 'utf8')).update(s.attrs.username).digest('base64'));
      expect(Date.parse(s.attrs.expires)).toBe(Number(expiry) * 1000);
    }
    expect((await services(alice.c, 'turn')).map(key).sort()).toEqual(['turn/tcp/3478', 'turn/udp/3478']);
    // Without 'to' (the account's own server answers) the same list comes back.
    expect((await alice.c.iqCaller.get(xml('services', { xmlns: EXT }))).getChildren('service').map(key).sort()).toEqual(list.map(key).sort());
  });

  it('credentials for a named service; unknown ones or a STUN service are item-not-found; no service named: bad-request', async () => {
    const alice = await online(srv, 'alice', 'c');
    const creds = await alice.c.iqCaller.get(xml('credentials', { xmlns: EXT }, xml('service', { host: 'turn.example.org', type: 'turns' })), srv.host);
    const s = creds.getChildren('service');
    expect(s).toHaveLength(1);
    expect(s[0].attrs.port).toBe('5349');
    expect(s[0].attrs.password).toBe(createHmac('sha1', SECRET).update(s[0].attrs.username).digest('base64'));
    expect(await errorOf(alice.c.iqCaller.get(xml('credentials', { xmlns: EXT }, xml('service', { host: 'other.example', type: 'turn' })), srv.host))).toBe('item-not-found');
    expect(await errorOf(alice.c.iqCaller.get(xml('credentials', { xmlns: EXT }, xml('service', { host: 'turn.example.org', type: 'stun' })), srv.host))).toBe('item-not-found');
    expect(await errorOf(alice.c.iqCaller.get(xml('credentials', { xmlns: EXT }), srv.host))).toBe('bad-request');
  });

  it('contact addresses: admin from the admins list, abuse and security from config', async () => {
    const alice = await online(srv, 'alice', 'd');
    const info = await alice.c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), srv.host);
    const form = info.getChildren('x', DATA).find((x: any) => x.getChildren('field').some((f: any) => f.attrs.var === 'FORM_TYPE' && f.getChildText('value') === 'http://jabber.org/network/serverinfo'));
    expect(form).toBeDefined();
    const values = (v: string) => form.getChildren('field').find((f: any) => f.attrs.var === v)?.getChildren('value').map((x: any) => x.text());
    expect(values('admin-addresses')).toEqual(['xmpp:boss@localhost']);
    expect(values('abuse-addresses')).toEqual(['mailto:abuse@example.org', 'xmpp:abuse@localhost']);
    expect(values('security-addresses')).toEqual(['https://example.org/security']);
    expect(values('support-addresses')).toBeUndefined();
    expect(form.getChildren('field').find((f: any) => f.attrs.var === 'abuse-addresses').attrs.type).toBe('list-multi');
  });
});

describe('with TURN off, or the secret in a file', () => {
  it('default config: the protocol answers with an empty list', async () => {
    const s2 = await startTestServer();
    try {
      await s2.addUser('bob', 'bobpw');
      const bob = await online(s2, 'bob', 'r');
      expect(await services(bob.c)).toEqual([]);
    } finally {
      await s2.stop();
    }
  });

  it('secretFile: its first line is the secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'roost-turn-'));
    const file = join(dir, 'turn-secret');
    await writeFile(file, 'from-the-file\nignored second line\n');
    const s3 = await startTestServer({ turn: { enabled: true, host: '192.0.2.7', secretFile: file, ttl: 60 } } as never);
    try {
      await s3.addUser('carl', 'carlpw');
      const carl = await online(s3, 'carl', 'r');
      const turn = (await services(carl.c, 'turn'))[0];
      expect(turn.attrs.host).toBe('192.0.2.7');
      expect(turn.attrs.password).toBe(createHmac('sha1', 'from-the-file').update(turn.attrs.username).digest('base64'));
      expect(await services(carl.c, 'turns')).toEqual([]);
    } finally {
      await s3.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
