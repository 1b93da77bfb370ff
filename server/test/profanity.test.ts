// A real terminal XMPP client from Debian against Roost: profanity (libstrophe) runs in tmux with
// its own HOME, logs in over STARTTLS, is shown the self-signed certificate and accepted with
// `/tls allow` (what a person does the first time), sends a chat message to a second account
// connected with @xmpp/client, and shows that account's answer in its chat window.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { ensureDebianPackage } from '../../appliance/test/helpers/infra.js';
import { startTmux, type Tmux } from '../../installer/test/helpers/tmux.js';
import { startTestServer } from './helpers/server.js';

type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let home: string;
let term: Tmux | undefined;
let profanity: string;
const ALICE_PW = 'alice-in-a-terminal-7';
const BOB_PW = 'bob-with-a-library-7';

beforeAll(async () => {
  profanity = ensureDebianPackage('profanity', ['profanity']);
  srv = await startTestServer();
  await srv.addUser('alice', ALICE_PW);
  await srv.addUser('bob', BOB_PW);
  home = await mkdtemp(join(tmpdir(), 'roost-profanity-'));
}, 180_000);

afterAll(async () => {
  term?.kill();
  await srv?.stop();
  if (home) await rm(home, { recursive: true, force: true });
});

/** profanity's own log (in its private data folder), for failure messages. */
function profanityLog(): string {
  const dir = join(home, 'data', 'profanity', 'logs');
  if (!existsSync(dir)) return '(no profanity log)';
  return readdirSync(dir)
    .map((f) => `--- ${f}\n${readFileSync(join(dir, f), 'utf8').slice(-3000)}`)
    .join('\n');
}

/** Waits for `re` on the screen; on timeout the error shows the pane and profanity's log. */
async function see(re: RegExp, timeoutMs = 30_000): Promise<string> {
  try {
    return await term!.waitFor(re, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\nprofanity log:\n${profanityLog()}`);
  }
}

async function command(line: string): Promise<void> {
  await term!.text(line);
  await term!.keys('Enter');
}

describe('profanity (Debian) in a real terminal', () => {
  it('logs in, accepts the self-signed certificate, sends a message to an @xmpp/client account and shows the answer', async () => {
    // The other account: a library client, available, collecting what it receives.
    const bob = await srv.client('bob', BOB_PW, 'lib');
    const received: any[] = [];
    const waiters: Array<() => void> = [];
    bob.on('stanza', (s: any) => {
      received.push(s);
      for (const w of waiters.splice(0)) w();
    });
    await bob.send(xml('presence'));
    const nextMessage = async (pred: (s: any) => boolean, ms: number): Promise<any> => {
      const end = Date.now() + ms;
      for (;;) {
        const m = received.find(pred);
        if (m) return m;
        if (Date.now() > end) throw new Error(`bob got no such message; got: ${received.map(String).join('\n')}\nscreen:\n${term!.raw()}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    };

    // Its own HOME and XDG folders: nothing of this machine's user, nothing left behind.
    const env = {
      HOME: home,
      XDG_CONFIG_HOME: join(home, 'config'),
      XDG_DATA_HOME: join(home, 'data'),
      XDG_CACHE_HOME: join(home, 'cache'),
      XDG_STATE_HOME: join(home, 'state'),
      LANG: 'C.UTF-8',
    };
    term = startTmux(profanity, { cwd: home, env, width: 150, height: 50 });
    await see(/Type '\/help' to show complete help/);

    await command(`/connect alice@${srv.host} server 127.0.0.1 port ${srv.port} tls force`);
    await see(/Enter password:/);
    await term.text(ALICE_PW);
    await term.keys('Enter');

    // Shown the certificate: the fingerprint (SHA-1 of the DER) is the server's own.
    const shown = await see(/Use '\/tls allow' to accept this certificate/);
    expect(shown).toMatch(/TLS certificate verification failed: self-signed certificate/);
    const sha1 = createHash('sha1').update(new X509Certificate(srv.certPem).raw).digest('hex');
    expect(/Fingerprint\s*:\s*([0-9a-f]{40})/.exec(shown)?.[1]).toBe(sha1);
    expect(shown).not.toContain(ALICE_PW);
    await command('/tls allow');
    const loggedIn = await see(/alice@localhost\/(\S+) logged in successfully/);
    const resource = /alice@localhost\/(\S+) logged in successfully/.exec(loggedIn)![1]!;

    // alice -> bob: the body arrives at the library client, from profanity's full JID.
    const body = 'hello bob, typed in profanity';
    await command(`/msg bob@${srv.host} ${body}`);
    await see(/me: hello bob, typed in profanity/);
    const m = await nextMessage((s) => s.name === 'message' && s.getChildText('body') === body, 15_000);
    expect(m.attrs.from).toBe(`alice@${srv.host}/${resource}`);
    expect(m.attrs.type).toBe('chat');

    // bob -> alice: shown in profanity's chat window.
    const answer = 'answer from the library client';
    await bob.send(xml('message', { to: m.attrs.from, type: 'chat' }, xml('body', {}, answer)));
    // Not in alice's roster, so profanity names the sender by full JID (the server may have added to the resource asked for).
    const bobJid = bob.jid.toString().replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    const screen = await see(new RegExp(`${bobJid}: answer from the library client`));
    expect(screen).toMatch(/me: hello bob, typed in profanity/);

    await command('/quit');
    await see(/\[exited with 0\]/, 15_000);
    // Profanity wrote its files into the private HOME only.
    expect(existsSync(join(home, 'config', 'profanity'))).toBe(true);
    await bob.stop();
  }, 120_000);
});
