// RFC 6121 §8.5 (Server Rules for Processing XML Stanzas) for messages to local accounts:
// bare JID with priorities, full JID, gone resources, each message type, unknown accounts.
// https://www.rfc-editor.org/rfc/rfc6121#section-8.5
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { startTestServer } from './helpers/server.js';
import { clientsOf, errorCondition as errorOf, isBody as msg, pres } from './helpers/im.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let domain: string;

const { connect, online } = clientsOf(() => srv, { waitMs: 4000, noneMs: 300 });

const J = (u: string) => `${u}@${domain}`;

let n = 0;
const uniq = (p: string) => `${p}-${++n}`;

beforeAll(async () => {
  srv = await startTestServer();
  domain = srv.host;
  for (const u of ['alice', 'bob', 'carol']) await srv.addUser(u, u + 'pw');
});

afterAll(async () => {
  await srv?.stop();
});

describe('messages to a bare JID', () => {
  it('go to the highest priority resource only; to all of them when tied', async () => {
    const alice = await online('alice');
    const hi = await online('bob', 'hi', 5);
    const lo = await online('bob', 'lo', 1);
    for (const type of ['chat', 'normal']) {
      const body = uniq(type);
      await alice.c.send(xml('message', { to: J('bob'), type }, xml('body', {}, body)));
      const got = await hi.inbox.wait(msg(body));
      expect(got.attrs.from).toBe(alice.jid);
      await lo.inbox.none(msg(body));
    }
    // Tie: lo raises its priority to 5.
    await lo.c.send(xml('presence', {}, xml('priority', {}, '5')));
    await lo.inbox.wait((s) => pres(undefined, lo.jid)(s) && s.getChildText('priority') === '5');
    const body = uniq('tie');
    await alice.c.send(xml('message', { to: J('bob'), type: 'chat' }, xml('body', {}, body)));
    await hi.inbox.wait(msg(body));
    await lo.inbox.wait(msg(body));
    await Promise.all([alice.c.stop(), hi.c.stop(), lo.c.stop()]);
  });

  it('a negative priority resource gets none; the message waits offline until it is >= 0', async () => {
    const alice = await online('alice');
    const neg = await online('bob', 'neg', -1);
    const body = uniq('neg');
    await alice.c.send(xml('message', { to: J('bob'), type: 'chat' }, xml('body', {}, body)));
    await neg.inbox.none(msg(body));
    await alice.inbox.none((s) => s.name === 'message' && s.attrs.type === 'error');
    // A message to its full JID still reaches it (§8.5.3.1).
    const direct = uniq('direct');
    await alice.c.send(xml('message', { to: neg.jid, type: 'chat' }, xml('body', {}, direct)));
    await neg.inbox.wait(msg(direct));
    await neg.c.send(xml('presence', {}, xml('priority', {}, '0')));
    const late = await neg.inbox.wait(msg(body));
    expect(late.getChild('delay', 'urn:xmpp:delay')).toBeDefined();
    await Promise.all([alice.c.stop(), neg.c.stop()]);
  });

  it('headline goes to every non-negative resource; groupchat is an error; error is dropped', async () => {
    const alice = await online('alice');
    const b1 = await online('bob', 'b1', 5);
    const b2 = await online('bob', 'b2', 0);
    const b3 = await online('bob', 'b3', -5);
    const head = uniq('headline');
    await alice.c.send(xml('message', { to: J('bob'), type: 'headline' }, xml('body', {}, head)));
    await b1.inbox.wait(msg(head));
    await b2.inbox.wait(msg(head));
    await b3.inbox.none(msg(head));

    const gc = uniq('gc');
    await alice.c.send(xml('message', { to: J('bob'), type: 'groupchat', id: gc }, xml('body', {}, gc)));
    const err = await alice.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === gc);
    expect(errorOf(err)).toBe('service-unavailable');
    await b1.inbox.none(msg(gc));

    const e = uniq('err');
    await alice.c.send(xml('message', { to: J('bob'), type: 'error' }, xml('body', {}, e)));
    await b1.inbox.none(msg(e));
    await Promise.all([alice.c.stop(), b1.c.stop(), b2.c.stop(), b3.c.stop()]);
  });

  it('to oneself', async () => {
    const alice = await online('alice', 'x');
    const body = uniq('self');
    await alice.c.send(xml('message', { to: J('alice'), type: 'chat' }, xml('body', {}, body)));
    await alice.inbox.wait(msg(body));
    await alice.c.stop();
  });
});

describe('messages to a full JID', () => {
  it('reach that resource; a gone resource falls back per type', async () => {
    const alice = await online('alice');
    const hi = await online('bob', 'hi', 5);
    const lo = await online('bob', 'lo', 1);
    const direct = uniq('full');
    await alice.c.send(xml('message', { to: lo.jid, type: 'chat' }, xml('body', {}, direct)));
    await lo.inbox.wait(msg(direct));
    await hi.inbox.none(msg(direct));

    for (const type of ['chat', 'normal']) {
      const body = uniq('gone-' + type);
      await alice.c.send(xml('message', { to: `${J('bob')}/gone`, type }, xml('body', {}, body)));
      await hi.inbox.wait(msg(body));
      await lo.inbox.none(msg(body));
    }
    const head = uniq('gone-headline');
    await alice.c.send(xml('message', { to: `${J('bob')}/gone`, type: 'headline' }, xml('body', {}, head)));
    await hi.inbox.none(msg(head));
    await alice.inbox.none((s) => s.name === 'message' && s.attrs.type === 'error');

    const gc = uniq('gone-gc');
    await alice.c.send(xml('message', { to: `${J('bob')}/gone`, type: 'groupchat', id: gc }, xml('body', {}, gc)));
    const err = await alice.inbox.wait((s) => s.attrs.type === 'error' && s.attrs.id === gc);
    expect(errorOf(err)).toBe('service-unavailable');
    await Promise.all([alice.c.stop(), hi.c.stop(), lo.c.stop()]);
  });
});

describe('messages to an account that does not exist', () => {
  it('look exactly like messages to an offline account: chat/normal/headline silence, groupchat service-unavailable', async () => {
    const alice = await online('alice');
    // 'carol' exists and is offline; 'nobody' does not exist. A stranger must not tell them apart.
    const seen: Record<string, string[]> = {};
    for (const user of ['carol', 'nobody']) {
      seen[user] = [];
      for (const to of [J(user), `${J(user)}/res`]) {
        for (const type of ['chat', 'normal', 'headline', 'groupchat']) {
          const id = uniq(`${user}-${type}`);
          await alice.c.send(xml('message', { to, type, id }, xml('body', {}, id)));
          if (type === 'groupchat') {
            const err = await alice.inbox.wait((s) => s.name === 'message' && s.attrs.type === 'error' && s.attrs.id === id);
            expect(errorOf(err)).toBe('service-unavailable');
            expect(err.attrs.from).toBe(to);
            seen[user]!.push(`${type}:${errorOf(err)}`);
          } else {
            await alice.inbox.none((s) => s.attrs.id === id, 150);
            seen[user]!.push(`${type}:none`);
          }
        }
      }
    }
    expect(seen.nobody).toEqual(seen.carol);
    await alice.c.stop();
  });
});
