// The TURN credentials Roost hands out (XEP-0215) against a real coturn (Debian package coturn,
// installed when missing) running with use-auth-secret on loopback: a TURN Allocate request
// (RFC 8656 §7.2, long-term credentials RFC 8489 §9.2) with them succeeds; with a wrong password
// or an expired username coturn refuses it with 401.
// The STUN messages are built here by hand (not by Roost's code) from the RFCs.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { xml } from '@xmpp/client';
import { ensureDebianPackage, freePort } from '../../appliance/test/helpers/infra.js';
import { startTestServer } from './helpers/server.js';
import { online } from './helpers/im.js';

const SECRET = 'roost-coturn-test-secret';
const REALM = 'roost.test';
type Srv = Awaited<ReturnType<typeof startTestServer>>;
let srv: Srv;
let coturn: ChildProcess;
let turnPort: number;
let log = '';

const MAGIC = 0x2112a442;
const ATTR = { USERNAME: 0x0006, MESSAGE_INTEGRITY: 0x0008, ERROR_CODE: 0x0009, REALM: 0x0014, NONCE: 0x0015, REQUESTED_TRANSPORT: 0x0019, XOR_RELAYED_ADDRESS: 0x0016 };

function attr(type: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const h = Buffer.alloc(4);
  h.writeUInt16BE(type, 0);
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value, Buffer.alloc(pad)]);
}

/** An Allocate request; with credentials, MESSAGE-INTEGRITY over the message (RFC 8489 §14.5). */
function allocate(tid: Buffer, creds?: { username: string; password: string; realm: string; nonce: Buffer }): Buffer {
  const attrs = [attr(ATTR.REQUESTED_TRANSPORT, Buffer.from([17, 0, 0, 0]))];
  if (creds) attrs.push(attr(ATTR.USERNAME, Buffer.from(creds.username)), attr(ATTR.REALM, Buffer.from(creds.realm)), attr(ATTR.NONCE, creds.nonce));
  const body = Buffer.concat(attrs);
  const header = (len: number) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(0x0003, 0);
    h.writeUInt16BE(len, 2);
    h.writeUInt32BE(MAGIC, 4);
    tid.copy(h, 8);
    return h;
  };
  if (!creds) return Buffer.concat([header(body.length), body]);
  // The length counts the MESSAGE-INTEGRITY attribute (24 bytes) that follows.
  const key = createHash('md5').update(`${creds.username}:${creds.realm}:${creds.password}`).digest();
  const signed = Buffer.concat([header(body.length + 24), body]);
  const mac = createHmac('sha1', key).update(signed).digest();
  return Buffer.concat([signed, attr(ATTR.MESSAGE_INTEGRITY, mac)]);
}

function parse(msg: Buffer): { type: number; attrs: Map<number, Buffer> } {
  const type = msg.readUInt16BE(0);
  const attrs = new Map<number, Buffer>();
  for (let i = 20; i + 4 <= msg.length; ) {
    const t = msg.readUInt16BE(i);
    const l = msg.readUInt16BE(i + 2);
    attrs.set(t, msg.subarray(i + 4, i + 4 + l));
    i += 4 + l + ((4 - (l % 4)) % 4);
  }
  return { type, attrs };
}

async function exchange(sock: dgram.Socket, req: Buffer): Promise<{ type: number; attrs: Map<number, Buffer> }> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer from coturn; its log:\n${log}`)), 5000);
    sock.once('message', (m) => {
      clearTimeout(t);
      resolve(parse(m));
    });
    sock.send(req, turnPort, '127.0.0.1');
  });
}

/** Allocate with these credentials: the answer's class (success or error code). */
async function tryAllocate(username: string, password: string): Promise<'success' | number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    const first = await exchange(sock, allocate(randomBytes(12)));
    expect(first.type).toBe(0x0113); // Allocate error: 401 with realm and nonce
    const realm = first.attrs.get(ATTR.REALM)!.toString();
    const nonce = first.attrs.get(ATTR.NONCE)!;
    const second = await exchange(sock, allocate(randomBytes(12), { username, password, realm, nonce }));
    if (second.type === 0x0103) {
      expect(second.attrs.get(ATTR.XOR_RELAYED_ADDRESS)).toBeDefined();
      return 'success';
    }
    const e = second.attrs.get(ATTR.ERROR_CODE)!;
    return e[2]! * 100 + e[3]!;
  } finally {
    sock.close();
  }
}

/** Waits until coturn answers a STUN Binding request (RFC 8489 §6) on its port. */
async function untilAnswering(): Promise<void> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const req = Buffer.alloc(20);
      req.writeUInt16BE(0x0001, 0);
      req.writeUInt32BE(MAGIC, 4);
      randomBytes(12).copy(req, 8);
      const answered = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => (sock.off('message', on), resolve(false)), 200);
        const on = () => (clearTimeout(t), resolve(true));
        sock.once('message', on);
        sock.send(req, turnPort, '127.0.0.1');
      });
      if (answered) return;
      if (Date.now() > deadline || coturn.exitCode !== null) throw new Error(`coturn does not answer on ${turnPort}; its log:\n${log}`);
    }
  } finally {
    sock.close();
  }
}

beforeAll(async () => {
  const bin = ensureDebianPackage('turnserver', ['coturn']);
  turnPort = await freePort();
  coturn = spawn(bin, [
    '-n', '--no-cli', '--no-tls', '--no-dtls', '--log-file=stdout', '--simple-log',
    '--listening-ip=127.0.0.1', `--listening-port=${turnPort}`, '--relay-ip=127.0.0.1',
    '--min-port=49160', '--max-port=49200', '--use-auth-secret', `--static-auth-secret=${SECRET}`,
    `--realm=${REALM}`, '--fingerprint', '--allow-loopback-peers', '--no-multicast-peers',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  coturn.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  coturn.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await untilAnswering();
  srv = await startTestServer({ turn: { enabled: true, host: '127.0.0.1', port: turnPort, secret: SECRET, ttl: 600 } } as never);
  await srv.addUser('alice', 'alicepw');
}, 300_000);

afterAll(async () => {
  await srv?.stop();
  coturn?.kill('SIGTERM');
});

describe('TURN credentials from XEP-0215 with coturn use-auth-secret', () => {
  it('allocate succeeds with the handed-out credentials; a wrong password or an expired username is refused', async () => {
    const alice = await online(srv, 'alice', 'r');
    const turn = (await alice.c.iqCaller.get(xml('services', { xmlns: 'urn:xmpp:extdisco:2', type: 'turn' }), srv.host))
      .getChildren('service')
      .find((s: any) => s.attrs.transport === 'udp');
    expect(turn.attrs.port).toBe(String(turnPort));
    expect(await tryAllocate(turn.attrs.username, turn.attrs.password)).toBe('success');
    expect(await tryAllocate(turn.attrs.username, turn.attrs.password + 'x')).toBe(401);
    const expired = `${Math.floor(Date.now() / 1000) - 60}:${alice.bare}`;
    expect(await tryAllocate(expired, createHmac('sha1', SECRET).update(expired).digest('base64'))).toBe(401);
  });
});
