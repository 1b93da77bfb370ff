// XEP-0077 in-band registration by mode: closed (the default) refuses every account creation,
// invitations included, while password change stays; open asks for a XEP-0158 CAPTCHA (picture
// of digits as XEP-0231 Bits of Binary, or a text question) and keeps conflict checks, the
// per-address rate limit and account removal. Invite mode is in invites.test.ts.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import pngjs from 'pngjs';
import { startTestServer } from './helpers/server.js';
import { errCondition } from './helpers/im.js';
import {
  condition,
  formFields,
  iqGet,
  iqSet,
  NS_BOB,
  NS_CAPTCHA,
  NS_IBR_TOKEN,
  NS_REGISTER,
  NS_REGISTER_FEATURE,
  preAuth,
  preauth,
  registerLegacy,
  registerWithCaptcha,
  submitForm,
  watchCaptchas,
  type Srv,
} from './helpers/registration.js';

const R = NS_REGISTER;

describe('registration closed (default)', () => {
  let srv: Srv;
  beforeAll(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'old-password');
    // A valid invitation in the store: closed still refuses it.
    await srv.server.storage.keyval('invites').set(srv.host, 'closedModeToken000001', {
      type: 'register',
      created: new Date().toISOString(),
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      uses: 1,
      usedBy: [],
      source: 'test',
    });
  });
  afterAll(async () => srv?.stop());

  it('no register features; get, set and preauth: service-unavailable', async () => {
    const s = await preAuth(srv);
    expect(s.features.getChild('register', NS_REGISTER_FEATURE)).toBeUndefined();
    expect(s.features.getChild('register', NS_IBR_TOKEN)).toBeUndefined();
    expect(condition(await iqGet(s, xml('query', { xmlns: R })))).toBe('service-unavailable');
    expect(condition(await registerLegacy(s, 'mallory', 'pw'))).toBe('service-unavailable');
    expect(condition(await preauth(s, 'closedModeToken000001', srv.host))).toBe('service-unavailable');
    expect(condition(await registerLegacy(s, 'mallory', 'pw'))).toBe('service-unavailable');
    s.destroy();
    await expect(srv.client('mallory', 'pw')).rejects.toBeDefined();
    expect(await srv.server.accounts(srv.host)!.exists('mallory')).toBe(false);
  });

  it('a logged-in user changes the password; the old one stops working', async () => {
    const alice = await srv.client('alice', 'old-password');
    const info = await alice.iqCaller.get(xml('query', { xmlns: R }), srv.host);
    expect(info.getChild('registered')).toBeDefined();
    expect(info.getChildText('username')).toBe('alice');
    // Someone else's username: refused.
    expect(
      await errCondition(alice.iqCaller.set(xml('query', { xmlns: R }, xml('username', {}, 'bob'), xml('password', {}, 'x')), srv.host)),
    ).toBe('bad-request');
    // Empty password never replaces the old one.
    expect(
      await errCondition(alice.iqCaller.set(xml('query', { xmlns: R }, xml('username', {}, 'alice'), xml('password')), srv.host)),
    ).toBe('not-acceptable');
    await alice.iqCaller.set(xml('query', { xmlns: R }, xml('username', {}, 'alice'), xml('password', {}, 'new-password')), srv.host);
    await alice.stop();
    const again = await srv.client('alice', 'new-password');
    await again.stop();
    await expect(srv.client('alice', 'old-password')).rejects.toBeDefined();
  });

  it('account removal is not allowed when registration is closed', async () => {
    const alice = await srv.client('alice', 'new-password');
    expect(await errCondition(alice.iqCaller.set(xml('query', { xmlns: R }, xml('remove'))))).toBe('not-allowed');
    await alice.stop();
  });
});

describe('registration open, with a CAPTCHA', () => {
  let srv: Srv;
  let seen: ReturnType<typeof watchCaptchas>;
  beforeAll(async () => {
    srv = await startTestServer({
      registration: { mode: 'open', enabled: true },
      limits: { registrationsPerAddress: 4 },
      modules: { register: { captchaPerMinute: 1000, questions: [{ question: 'Which colour is our office door?', answers: ['Green', 'dark green'] }] } },
    });
    seen = watchCaptchas(srv);
    await srv.addUser('taken', 'pw');
  });
  afterAll(async () => srv?.stop());

  it('offers the features and a CAPTCHA form: picture (BoB PNG, cid = its SHA-1) and question', async () => {
    const s = await preAuth(srv);
    expect(s.features.getChild('register', NS_REGISTER_FEATURE)).toBeDefined();
    expect(s.features.getChild('register', NS_IBR_TOKEN)).toBeDefined();
    const r = await iqGet(s, xml('query', { xmlns: R }));
    expect(r.attrs.type).toBe('result');
    const q = r.getChild('query', R);
    // No legacy fields: a client that cannot show the form cannot register here.
    expect(q.getChild('username')).toBeUndefined();
    const f = formFields(r);
    expect(f.get('FORM_TYPE')).toMatchObject({ type: 'hidden', values: [NS_CAPTCHA] });
    expect(f.get('from')!.values).toEqual([srv.host]);
    expect(f.get('answers')!.values).toEqual(['1']);
    expect(f.get('sid')!.values).toEqual([expect.stringMatching(/^q\d+$/)]);
    expect(f.get('username')!.el.getChild('required')).toBeDefined();
    expect(f.get('password')!.type).toBe('text-private');
    expect(f.get('qa')!.label).toBe('Which colour is our office door?');
    const uri = f.get('ocr')!.el.getChild('media', 'urn:xmpp:media-element').getChild('uri');
    expect(uri.attrs.type).toBe('image/png');
    const cid = uri.text().replace(/^cid:/, '');
    const data = q.getChild('data', NS_BOB);
    expect(data.attrs).toMatchObject({ cid, type: 'image/png', 'max-age': '0' });
    const png = Buffer.from(data.text(), 'base64');
    expect(cid).toBe(`sha1+${createHash('sha1').update(png).digest('hex')}@bob.xmpp.org`);
    expect(png.length).toBeLessThan(8192); // XEP-0231: small bits only
    const img = pngjs.PNG.sync.read(png);
    expect([img.width, img.height]).toEqual([220, 80]);
    // Ink on the page: some pixels are dark.
    let dark = 0;
    for (let i = 0; i < img.data.length; i += 4) if (img.data[i]! < 120) dark++;
    expect(dark).toBeGreaterThan(300);
    const challenge = seen.get(f.get('challenge')!.values[0]!)!;
    expect(challenge.ocr).toMatch(/^\d{6}$/);
    // XEP-0231 §3.2: the picture again by its cid, on this stream only.
    const again = await iqGet(s, xml('data', { xmlns: NS_BOB, cid }), srv.host);
    expect(again.getChild('data', NS_BOB).text()).toBe(data.text());
    const other = await preAuth(srv);
    expect(condition(await iqGet(other, xml('data', { xmlns: NS_BOB, cid }), srv.host))).toBe('item-not-found');
    s.destroy();
    other.destroy();
  });

  it('a wrong answer is refused and uses the challenge up; the right digits register', async () => {
    const s = await preAuth(srv);
    const wrong = await registerWithCaptcha(s, seen, 'newbie', 'secret-1', (c) => ({ ocr: c.ocr === '000000' ? '111111' : '000000', qa: 'red' }));
    expect(condition(wrong)).toBe('not-acceptable');
    expect(await srv.server.accounts(srv.host)!.exists('newbie')).toBe(false);
    // The same challenge answered again, rightly this time: gone.
    const [last] = [...seen.values()].slice(-1);
    const replay = await submitForm(s, { FORM_TYPE: NS_CAPTCHA, challenge: last!.id, username: 'newbie', password: 'secret-1', ocr: last!.ocr });
    expect(condition(replay)).toBe('service-unavailable');
    // A legacy submission without the form: refused with an explanation.
    expect(condition(await registerLegacy(s, 'newbie', 'secret-1'))).toBe('not-acceptable');
    // A fresh form, the digits with spaces as a person might type them.
    const ok = await registerWithCaptcha(s, seen, 'newbie', 'secret-1', (c) => ({ ocr: ` ${c.ocr.slice(0, 3)} ${c.ocr.slice(3)} ` }));
    expect(ok.attrs.type).toBe('result');
    const c = await srv.client('newbie', 'secret-1');
    await c.stop();
    s.destroy();
  });

  it('the text question is an alternative to the picture; a challenge from another stream does not count', async () => {
    const a = await preAuth(srv);
    const b = await preAuth(srv);
    const form = await iqGet(a, xml('query', { xmlns: R }));
    const id = formFields(form).get('challenge')!.values[0]!;
    const theirs = await submitForm(b, { FORM_TYPE: NS_CAPTCHA, challenge: id, username: 'thief', password: 'x', ocr: seen.get(id)!.ocr });
    expect(condition(theirs)).toBe('service-unavailable');
    const ok = await submitForm(a, { FORM_TYPE: NS_CAPTCHA, challenge: id, username: 'reader', password: 'secret-q', qa: '  DARK   Green ' });
    expect(ok.attrs.type).toBe('result');
    a.destroy();
    b.destroy();
    const c = await srv.client('reader', 'secret-q');
    await c.stop();
  });

  it('conflict, bad username, missing password, then the per-address rate limit', async () => {
    const s = await preAuth(srv);
    const right = (c: { ocr: string }) => ({ ocr: c.ocr });
    expect(condition(await registerWithCaptcha(s, seen, 'taken', 'whatever', right))).toBe('conflict');
    expect(condition(await registerWithCaptcha(s, seen, 'bad user@x', 'whatever', right))).toBe('jid-malformed');
    expect(condition(await registerWithCaptcha(s, seen, 'nopw', '', right))).toBe('not-acceptable');
    expect((await registerWithCaptcha(s, seen, 'third', 'secret-3', right)).attrs.type).toBe('result');
    expect((await registerWithCaptcha(s, seen, 'fourth', 'secret-4', right)).attrs.type).toBe('result');
    // Four registrations from 127.0.0.1 this hour: the fifth waits, even with the right answer.
    expect(condition(await registerWithCaptcha(s, seen, 'fifth', 'secret-5', right))).toBe('policy-violation');
    s.destroy();
  });

  it('a user removes their own account', async () => {
    const c = await srv.client('third', 'secret-3');
    // @xmpp/client reports the server closing the stream as 'disconnect' ('offline' is for stop()).
    const closed = new Promise((resolve) => c.once('disconnect', resolve));
    await c.iqCaller.set(xml('query', { xmlns: R }, xml('remove')));
    await closed;
    await expect(srv.client('third', 'secret-3')).rejects.toBeDefined();
  });

  it('too many challenges waiting from one address: resource-constraint', async () => {
    const streams = await Promise.all(Array.from({ length: 6 }, () => preAuth(srv)));
    const replies = [];
    for (const s of streams) replies.push(await iqGet(s, xml('query', { xmlns: R })));
    // Default captchaPerAddress is 5; earlier streams of this test file may still hold some.
    expect(replies.map(condition)).toContain('resource-constraint');
    expect(replies[0].attrs.type).toBe('result');
    for (const s of streams) s.destroy();
    // Unrelated: an iq set without a query stays a clean error.
    const s = await preAuth(srv);
    expect(condition(await iqSet(s, xml('query', { xmlns: 'jabber:iq:register-nope' })))).toBe('service-unavailable');
    s.destroy();
  });
});

describe('registration open: pictures drawn per address and minute are limited', () => {
  let srv: Srv;
  beforeAll(async () => {
    srv = await startTestServer({ registration: { mode: 'open', enabled: true }, modules: { register: { captchaPerMinute: 3 } } });
  });
  afterAll(async () => srv?.stop());

  it('one stream asking again and again gets resource-constraint after captchaPerMinute forms', async () => {
    const s = await preAuth(srv);
    const replies = [];
    for (let i = 0; i < 5; i++) replies.push(await iqGet(s, xml('query', { xmlns: R })));
    expect(replies.map((r) => r.attrs.type)).toEqual(['result', 'result', 'result', 'error', 'error']);
    expect(condition(replies[3])).toBe('resource-constraint');
    expect(replies[3].getChild('error').attrs.type).toBe('wait');
    // The stream is still usable.
    expect(condition(await registerLegacy(s, 'x', 'y'))).toBe('not-acceptable');
    s.destroy();
  });
});
