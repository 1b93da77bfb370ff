// Daemon-level behaviour around its configuration and accounts: a reload applies what can
// change live and keeps the running value of what needs a restart; an account deleted by
// another process (`roost user del`) loses its open sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from './helpers/server.js';
import { loggedIn } from './helpers/raw.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;

beforeAll(async () => {
  srv = await startTestServer();
  await srv.addUser('gone', 'gone-secret');
  await srv.addUser('stays', 'stays-secret');
});
afterAll(async () => {
  await srv?.stop();
});

describe('reload', () => {
  it('applies live settings and keeps the running value of restart-only ones', async () => {
    const cfg = srv.server.config;
    const next = structuredClone(cfg);
    next.limits.offlineMessages = 7;
    next.admins = [`stays@${srv.host}`];
    next.listeners.c2s.port = 1; // a restart-only change
    next.modules = { ...next.modules, roster: { maxItems: 3 } }; // modules read settings at load
    const r = await srv.server.reload(next);
    expect(r.applied).toEqual(expect.arrayContaining(['limits.offlineMessages', 'admins']));
    expect(r.needsRestart).toEqual(expect.arrayContaining(['listeners.c2s.port', 'modules.roster']));
    expect(srv.server.config.limits.offlineMessages).toBe(7);
    expect(srv.server.config.admins).toEqual([`stays@${srv.host}`]);
    expect(srv.server.config.listeners.c2s.port).toBe(cfg.listeners.c2s.port);
    expect((srv.server.config.modules as Record<string, unknown>).roster).toBeUndefined();
  });
});

describe('accounts deleted by another process', () => {
  it('lose their sessions at the next sweep; other accounts keep theirs', async () => {
    const o = { port: srv.port, domain: srv.host, ca: srv.certPem };
    const gone = (await loggedIn(o, 'gone', 'gone-secret')).s;
    const stays = (await loggedIn(o, 'stays', 'stays-secret')).s;
    // What `roost user del` does to the database, from outside the daemon's modules.
    await srv.server.accounts(srv.host)!.delete('gone');
    await srv.server.sweepAccounts();
    expect(await gone.streamError()).toBe('not-authorized');
    const r = await stays.iq('get', `<ping xmlns='urn:xmpp:ping'/>`, srv.host);
    expect(r.attrs.type).toBe('result');
    stays.destroy();
  });
});
