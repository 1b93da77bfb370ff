// In-band registration by hand over a real pre-authentication stream (STARTTLS, then iqs before
// SASL, which client libraries do not send): XEP-0077 forms, XEP-0445 <preauth/>, XEP-0158
// CAPTCHA forms. Parsing is ltx's (through RawStream), independent of Roost's.
import { xml } from '@xmpp/client';
import type { Challenge, CaptchaIssuedEvent } from '../../src/modules/captcha/challenges.js';
import { RawStream } from './raw.js';
import type { startTestServer } from './server.js';

export type Srv = Awaited<ReturnType<typeof startTestServer>>;

export const NS_REGISTER = 'jabber:iq:register';
export const NS_DATA = 'jabber:x:data';
export const NS_PARS = 'urn:xmpp:pars:0';
export const NS_IBR_TOKEN = 'urn:xmpp:ibr-token:0';
export const NS_REGISTER_FEATURE = 'http://jabber.org/features/iq-register';
export const NS_CAPTCHA = 'urn:xmpp:captcha';
export const NS_BOB = 'urn:xmpp:bob';

/** A stream after STARTTLS, before authentication (features in `.features`). */
export async function preAuth(srv: Srv): Promise<RawStream> {
  const s = new RawStream({ port: srv.port, domain: srv.host, ca: srv.certPem });
  await s.secure();
  return s;
}

/** The defined condition of an error reply, undefined for a result. */
export function condition(iq: any): string | undefined {
  if (iq.attrs.type !== 'error') return undefined;
  return iq.getChild('error')?.getChildElements().find((c: any) => c.name !== 'text')?.name;
}

export function errorText(iq: any): string | undefined {
  return iq.getChild('error')?.getChildText('text');
}

export function iqSet(s: RawStream, payload: any, to?: string): Promise<any> {
  return s.iq('set', payload.toString(), to);
}

export function iqGet(s: RawStream, payload: any, to?: string): Promise<any> {
  return s.iq('get', payload.toString(), to);
}

export function preauth(s: RawStream, token: string, to?: string): Promise<any> {
  return iqSet(s, xml('preauth', { xmlns: NS_PARS, token }), to);
}

export function registerLegacy(s: RawStream, username: string, password: string): Promise<any> {
  return iqSet(s, xml('query', { xmlns: NS_REGISTER }, xml('username', {}, username), xml('password', {}, password)));
}

/** Submits a data form (XEP-0077 §6 / XEP-0158 §5) with these field values. */
export function submitForm(s: RawStream, fields: Record<string, string>): Promise<any> {
  const x = xml('x', { xmlns: NS_DATA, type: 'submit' });
  for (const [v, value] of Object.entries(fields)) x.append(xml('field', { var: v }, xml('value', {}, value)));
  return iqSet(s, xml('query', { xmlns: NS_REGISTER }, x));
}

/** The form fields of a registration form reply: var -> { type, values, el }. */
export function formFields(reply: any): Map<string, { type?: string; values: string[]; label?: string; el: any }> {
  const x = reply.getChild('query', NS_REGISTER)?.getChild('x', NS_DATA);
  const out = new Map<string, { type?: string; values: string[]; label?: string; el: any }>();
  for (const f of x?.getChildren('field') ?? []) {
    out.set(f.attrs.var, { type: f.attrs.type, label: f.attrs.label, values: f.getChildren('value').map((v: any) => v.text()), el: f });
  }
  return out;
}

/** Collects the challenges the server issues (hook `captcha-issued`), by challenge id. */
export function watchCaptchas(srv: Srv): Map<string, Challenge> {
  const seen = new Map<string, Challenge>();
  srv.server.hosts.get(srv.host)!.hooks.on<CaptchaIssuedEvent>('captcha-issued', ({ challenge }) => {
    seen.set(challenge.id, challenge);
  });
  return seen;
}

/** Fetches the CAPTCHA form and submits it with the username, password and the given answer fields. */
export async function registerWithCaptcha(
  s: RawStream,
  seen: Map<string, Challenge>,
  username: string,
  password: string,
  answer: (c: Challenge) => Record<string, string>,
): Promise<any> {
  const form = await iqGet(s, xml('query', { xmlns: NS_REGISTER }));
  if (form.attrs.type !== 'result') return form;
  const fields = formFields(form);
  const id = fields.get('challenge')!.values[0]!;
  const c = seen.get(id);
  if (!c) throw new Error(`challenge ${id} was not announced by the captcha-issued hook`);
  return submitForm(s, {
    FORM_TYPE: NS_CAPTCHA,
    challenge: id,
    ...(fields.get('sid') ? { sid: fields.get('sid')!.values[0]! } : {}),
    username,
    password,
    ...answer(c),
  });
}
