// XEP-0363 HTTP File Upload against a real server: slot requests from @xmpp/client sessions,
// PUT and GET over real HTTPS (the daemon's certificate, verified, for upload.<host>).
// Covers discovery, the round trip of a binary file, served headers (type, disposition, CSP,
// CORS, caching, Range, conditional GET) and the slot checks (size, quota, strangers, names,
// rate limit). PUT refusals, aborts, disk full, retention and account deletion are in
// upload-lifecycle.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client as xmppClient, xml } from '@xmpp/client';
import { parseConfigText } from '../src/config/load.js';
import { startTestServer } from './helpers/server.js';
import { NS_UPLOAD, httpsRequest, putFile, refusal, requestSlot } from './helpers/upload.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let service: string;
const OTHER = 'other.localhost';
const MAX = 8_000_000;
const QUOTA = 20_000_000;
const DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const DISCO_ITEMS = 'http://jabber.org/protocol/disco#items';

beforeAll(async () => {
  srv = await startTestServer({
    hosts: ['localhost', OTHER],
    listeners: { https: { enabled: true } },
    upload: { maxFileSize: MAX, dailyQuota: QUOTA },
    modules: { upload: { slotsPerMinute: 6 } },
  });
  service = `upload.${srv.host}`;
  for (const u of ['alice', 'quota', 'quota2', 'names', 'rate', 'media']) await srv.addUser(u, 'pw');
  await srv.server.accounts(OTHER)!.create('stranger', 'pw');
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

describe('discovery (XEP-0363 §3)', () => {
  it('the host lists the service; its disco#info has store/file, the feature and max-file-size', async () => {
    const c = await srv.client('alice', 'pw');
    const items = await c.iqCaller.get(xml('query', { xmlns: DISCO_ITEMS }), srv.host);
    expect(items.getChildren('item').map((i: any) => i.attrs.jid)).toContain(service);
    const info = await c.iqCaller.get(xml('query', { xmlns: DISCO_INFO }), service);
    expect(info.getChildren('identity').map((i: any) => `${i.attrs.category}/${i.attrs.type}`)).toContain('store/file');
    expect(info.getChildren('feature').map((f: any) => f.attrs.var)).toContain(NS_UPLOAD);
    const form = info.getChild('x', 'jabber:x:data');
    const field = (name: string) => form.getChildren('field').find((f: any) => f.attrs.var === name);
    expect(field('FORM_TYPE').getChildText('value')).toBe(NS_UPLOAD);
    expect(field('max-file-size').getChildText('value')).toBe(String(MAX));
    // The server's certificate covers the service name the URLs use.
    expect(srv.server.tls.info.names).toContain(service);
  });
});

describe('slot, PUT and GET (§4, §6)', () => {
  it('a 3 MB binary file goes up and comes back byte for byte, with safe headers', async () => {
    const c = await srv.client('alice', 'pw');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const slot = await requestSlot(c, service, 'backup 2024 (final).bin', data.length, 'application/x-test-data');
    expect(slot.put).toBe(slot.get);
    const url = new URL(slot.get);
    expect(url.protocol).toBe('https:');
    expect(url.hostname).toBe(service);
    expect(url.port).toBe(String(srv.httpsPort));
    expect(url.pathname).toMatch(/^\/upload\/[A-Za-z0-9_-]{22}\/backup%202024%20%28final%29\.bin$/);
    expect(Object.keys(slot.headers)).toEqual(['Authorization']);
    expect(slot.headers.Authorization).toMatch(/^Bearer [A-Za-z0-9_-]+$/);

    // Before the PUT there is nothing to download.
    expect((await httpsRequest(slot.get, srv.certPem)).status).toBe(404);
    const put = await putFile(slot, srv.certPem, data, 'application/x-test-data');
    expect(put.status).toBe(201);

    const got = await httpsRequest(slot.get, srv.certPem);
    expect(got.status).toBe(200);
    expect(got.body.equals(data)).toBe(true);
    const h = got.headers;
    expect(h['content-type']).toBe('application/x-test-data');
    expect(h['content-length']).toBe(String(data.length));
    expect(h['x-content-type-options']).toBe('nosniff');
    expect(h['content-disposition']).toBe(`attachment; filename="backup 2024 (final).bin"`);
    expect(h['content-security-policy']).toContain("default-src 'none'");
    expect(h['content-security-policy']).toContain('sandbox');
    expect(h['access-control-allow-origin']).toBe('*');
    expect(h['cache-control']).toMatch(/^public, max-age=\d+, immutable$/);
    expect(Number(/max-age=(\d+)/.exec(h['cache-control'] as string)![1])).toBeGreaterThan(29 * 86_400);
    expect(h['etag']).toBeTruthy();
    expect(Date.parse(h['last-modified'] as string)).toBeGreaterThan(Date.now() - 120_000);
    expect(h['accept-ranges']).toBe('bytes');
  });

  it('media is inline, with Range (206/416), HEAD and If-None-Match (304)', async () => {
    const c = await srv.client('media', 'pw');
    const data = randomBytes(200_000);
    const slot = await requestSlot(c, service, 'holiday.jpg', data.length, 'image/jpeg');
    expect((await putFile(slot, srv.certPem, data, 'image/jpeg')).status).toBe(201);

    const part = await httpsRequest(slot.get, srv.certPem, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 1000-1999/${data.length}`);
    expect(part.body.equals(data.subarray(1000, 2000))).toBe(true);
    expect(part.headers['content-type']).toBe('image/jpeg');
    expect(part.headers['content-disposition']).toBe('inline; filename="holiday.jpg"');
    const tail = await httpsRequest(slot.get, srv.certPem, { headers: { range: 'bytes=-10' } });
    expect(tail.status).toBe(206);
    expect(tail.body.equals(data.subarray(data.length - 10))).toBe(true);
    const beyond = await httpsRequest(slot.get, srv.certPem, { headers: { range: `bytes=${data.length + 5}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers['content-range']).toBe(`bytes */${data.length}`);

    const head = await httpsRequest(slot.get, srv.certPem, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(data.length));
    expect(head.body.length).toBe(0);
    const again = await httpsRequest(slot.get, srv.certPem, { headers: { 'if-none-match': head.headers.etag as string } });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);

    // A web client's preflight for the PUT.
    const pre = await httpsRequest(slot.put, srv.certPem, { method: 'OPTIONS', headers: { origin: 'https://web.example', 'access-control-request-method': 'PUT' } });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-methods']).toContain('PUT');
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
  });

  it('HTML and SVG are served as attachments that cannot run: nosniff, sandbox CSP', async () => {
    const c = await srv.client('media', 'pw');
    for (const [name, type, body] of [
      ['page.html', 'text/html', '<script>alert(document.cookie)</script>'],
      ['logo.svg', 'image/svg+xml', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'],
    ] as const) {
      const bytes = Buffer.from(body);
      const slot = await requestSlot(c, service, name, bytes.length, type);
      expect((await putFile(slot, srv.certPem, bytes, type)).status).toBe(201);
      const got = await httpsRequest(slot.get, srv.certPem);
      expect(got.headers['content-type']).toBe(type);
      expect(got.headers['content-disposition']).toBe(`attachment; filename="${name}"`);
      expect(got.headers['x-content-type-options']).toBe('nosniff');
      expect(got.headers['content-security-policy']).toMatch(/default-src 'none'.*sandbox/);
      expect(got.body.toString()).toBe(body);
    }
  });

  it('a PUT with another Content-Type than the slot names is refused (415)', async () => {
    const c = await srv.client('media', 'pw');
    const bytes = Buffer.from('GIF89a');
    const slot = await requestSlot(c, service, 'a.gif', bytes.length, 'image/gif');
    expect((await putFile(slot, srv.certPem, bytes, 'text/html')).status).toBe(415);
    expect((await putFile(slot, srv.certPem, bytes, 'image/GIF')).status).toBe(201);
  });
});

describe('slot checks (§5)', () => {
  it('too large: not-acceptable with <file-too-large><max-file-size/>', async () => {
    const c = await srv.client('alice', 'pw');
    const r = await refusal(requestSlot(c, service, 'movie.mkv', MAX + 1, 'video/x-matroska'));
    expect(r.condition).toBe('not-acceptable');
    expect(r.type).toBe('modify');
    const tooLarge = r.element.getChild('file-too-large', NS_UPLOAD);
    expect(tooLarge.getChildText('max-file-size')).toBe(String(MAX));
    expect(r.text).toMatch(String(MAX));
    // Exactly the limit is fine.
    await expect(requestSlot(c, service, 'movie.mkv', MAX, 'video/x-matroska')).resolves.toMatchObject({ put: expect.any(String) });
  });

  it('daily quota: resource-constraint (wait) with a <retry/> stamp when enough of it frees up', async () => {
    const c = await srv.client('quota', 'pw');
    // Granted slots count at once: two of 8 MB fit 20 MB, the third does not.
    await requestSlot(c, service, 'a.bin', MAX);
    await requestSlot(c, service, 'b.bin', MAX);
    const r = await refusal(requestSlot(c, service, 'c.bin', MAX));
    expect(r.condition).toBe('resource-constraint');
    expect(r.type).toBe('wait');
    const retry = r.element.getChild('retry', NS_UPLOAD);
    expect(retry.attrs.stamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // Unused slots stop counting when they expire (5 minutes), so that is when to retry.
    const wait = Date.parse(retry.attrs.stamp) - Date.now();
    expect(wait).toBeGreaterThan(4 * 60_000);
    expect(wait).toBeLessThanOrEqual(5 * 60_000 + 2000);
    // What still fits is granted.
    await expect(requestSlot(c, service, 'small.bin', QUOTA - 2 * MAX)).resolves.toBeTruthy();
    await refusal(requestSlot(c, service, 'one-more-byte.bin', 1));

    // Uploaded files count for 24 hours from their slot.
    const d = await srv.client('quota2', 'pw');
    const data = randomBytes(MAX);
    for (const n of ['x.bin', 'y.bin']) expect((await putFile(await requestSlot(d, service, n, MAX), srv.certPem, data)).status).toBe(201);
    const later = await refusal(requestSlot(d, service, 'z.bin', MAX));
    const after = Date.parse(later.element.getChild('retry', NS_UPLOAD).attrs.stamp) - Date.now();
    expect(after).toBeGreaterThan(23.9 * 3600_000);
    expect(after).toBeLessThanOrEqual(24 * 3600_000 + 2000);
  });

  it('an account of another host is refused (forbidden); the request is echoed', async () => {
    const c = xmppClient({ service: `xmpp://127.0.0.1:${srv.port}`, domain: OTHER, username: 'stranger', password: 'pw' });
    c.on('error', () => {});
    await c.start();
    try {
      const r = await refusal(requestSlot(c, service, 'x.txt', 10, 'text/plain'));
      expect(r.condition).toBe('forbidden');
      expect(r.text).toMatch(`only accounts of ${srv.host}`);
      expect(r.element.parent.getChild('request', NS_UPLOAD).attrs.filename).toBe('x.txt');
      // Its own host's service serves it.
      await expect(requestSlot(c, `upload.${OTHER}`, 'x.txt', 10, 'text/plain')).resolves.toBeTruthy();
    } finally {
      await c.stop().catch(() => {});
    }
  });

  it('file names are sanitised, keeping the ending; bad requests say what is wrong', async () => {
    const c = await srv.client('names', 'pw');
    const name = async (n: string) => decodeURIComponent(new URL((await requestSlot(c, service, n, 1)).get).pathname.split('/').pop()!);
    expect(await name('../../etc/passwd')).toBe('passwd');
    expect(await name('C:\\Users\\me\\photo.jpg')).toBe('photo.jpg');
    expect(await name('\u202egpj.exe')).toBe('gpj.exe');
    expect(await name('.htaccess')).toBe('htaccess');
    expect(await name('Grüße, Zoë – “quote”.pdf')).toBe('Grüße, Zoë – “quote”.pdf');
    const long = await name('x'.repeat(400) + '.jpeg');
    expect(long.endsWith('.jpeg')).toBe(true);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(255);

    const bad = async (attrs: Record<string, string>) =>
      refusal(c.iqCaller.request(xml('iq', { type: 'get', to: service }, xml('request', { xmlns: NS_UPLOAD, ...attrs }))));
    expect(await bad({ size: '10' })).toMatchObject({ condition: 'bad-request', text: expect.stringMatching(/filename/) });
    expect(await bad({ filename: '..', size: '10' })).toMatchObject({ condition: 'bad-request' });
    expect(await bad({ filename: 'a.txt' })).toMatchObject({ condition: 'bad-request', text: expect.stringMatching(/size/) });
    expect(await bad({ filename: 'a.txt', size: '-1' })).toMatchObject({ condition: 'bad-request' });
    expect(await bad({ filename: 'a.txt', size: '1e6' })).toMatchObject({ condition: 'bad-request' });
    expect(await bad({ filename: 'a.txt', size: '10', 'content-type': 'text/html\r\nX-Evil: 1' })).toMatchObject({ condition: 'bad-request', text: expect.stringMatching(/content-type/) });
    // An iq set is not a slot request.
    const set = await refusal(c.iqCaller.request(xml('iq', { type: 'set', to: service }, xml('request', { xmlns: NS_UPLOAD, filename: 'a', size: '1' }))));
    expect(set.condition).toBe('bad-request');
    // The service answers what it does not know with service-unavailable and keeps working.
    expect((await refusal(c.iqCaller.get(xml('query', { xmlns: 'jabber:iq:version' }), service))).condition).toBe('service-unavailable');
  });

  it('slot requests are rate limited per account (modules.upload.slotsPerMinute)', async () => {
    const c = await srv.client('rate', 'pw');
    // The limiter's sliding window is an estimate: across a minute boundary one more may pass.
    let granted = 0;
    let r: Awaited<ReturnType<typeof refusal>> | undefined;
    while (!r && granted < 10) {
      try {
        await requestSlot(c, service, `f${granted}.txt`, 1);
        granted++;
      } catch {
        r = await refusal(requestSlot(c, service, 'again.txt', 1));
      }
    }
    expect(granted).toBeGreaterThanOrEqual(6);
    expect(granted).toBeLessThanOrEqual(7);
    if (!r) throw new Error('never refused');
    expect(r.condition).toBe('resource-constraint');
    expect(r.text).toMatch(/at most 6/);
    const stamp = Date.parse(r.element.getChild('retry', NS_UPLOAD).attrs.stamp);
    expect(stamp).toBeGreaterThan(Date.now());
    expect(stamp).toBeLessThanOrEqual(Date.now() + 61_000);
    // Someone else is not affected.
    await expect(requestSlot(await srv.client('alice', 'pw'), service, 'g.txt', 1)).resolves.toBeTruthy();
  });
});

describe('several hosts, and a proxy in front', () => {
  it("each host's service serves its own files on the shared listener", async () => {
    const c = xmppClient({ service: `xmpp://127.0.0.1:${srv.port}`, domain: OTHER, username: 'stranger', password: 'pw' });
    c.on('error', () => {});
    await c.start();
    try {
      const data = randomBytes(50_000);
      const slot = await requestSlot(c, `upload.${OTHER}`, 'theirs.bin', data.length);
      expect(new URL(slot.put).hostname).toBe(`upload.${OTHER}`);
      expect((await putFile(slot, srv.certPem, data)).status).toBe(201);
      expect((await httpsRequest(slot.get, srv.certPem)).body.equals(data)).toBe(true);
    } finally {
      await c.stop().catch(() => {});
    }
  });

  it('upload.publicUrl (applied by a reload) replaces the address; paths stay /upload/…', async () => {
    const base = srv.server.config;
    await srv.server.reload({ ...base, upload: { ...base.upload, publicUrl: 'https://files.example.test/chat' } });
    try {
      const c = await srv.client('alice', 'pw');
      const data = Buffer.from('through the proxy');
      const slot = await requestSlot(c, service, 'p.txt', data.length, 'text/plain');
      expect(slot.put).toMatch(/^https:\/\/files\.example\.test\/chat\/upload\/[A-Za-z0-9_-]{22}\/p\.txt$/);
      // What the proxy forwards: the same path minus its own prefix, to the web port.
      const direct = { ...slot, put: `https://${service}:${srv.httpsPort}${new URL(slot.put).pathname.replace(/^\/chat/, '')}` };
      expect((await putFile(direct, srv.certPem, data, 'text/plain')).status).toBe(201);
      expect((await httpsRequest(direct.put, srv.certPem)).body.toString()).toBe('through the proxy');
    } finally {
      await srv.server.reload({ ...srv.server.config, upload: { ...srv.server.config.upload, publicUrl: undefined } });
    }
    expect(() => parseConfigText('upload: { publicUrl: "http://files.example.test" }\n', 'roost.yaml', {})).toThrow(/publicUrl.*must start with https:\/\//);
  });

  it('a wrong modules.upload setting stops the start with a message naming it', async () => {
    await expect(startTestServer({ modules: { upload: { slotsPerMinute: 0 } } })).rejects.toThrow(/modules\.upload\.slotsPerMinute: Number must be greater than or equal to 1/);
    await expect(startTestServer({ modules: { upload: { slotTimout: '5m' } } })).rejects.toThrow(/modules\.upload: .*slotTimout.*settings: slotTimeout/);
  });
});
