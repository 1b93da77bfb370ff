// XEP-0158: CAPTCHA Forms (v1.0.1, https://xmpp.org/extensions/xep-0158.html) in In-Band
// Registration (§5 "Extended In-Band Registration"), with the picture carried as XEP-0231 Bits
// of Binary (v1.0, https://xmpp.org/extensions/xep-0231.html) and shown through an XEP-0221
// media element (v1.0, https://xmpp.org/extensions/xep-0221.html).
//
// Each challenge offers two ways to pass; answering one is enough ('answers' = 1):
//   ocr  the digits of a PNG picture (captcha/image.ts),
//   qa   a text question (the accessible alternative: screen readers, no picture support).
// Challenges live in memory only (a restart just asks again), belong to the stream that asked
// (another connection cannot answer them), answer once (right or wrong: a guesser needs a new
// challenge each time), and expire after registration.captchaTimeout. The number waiting per
// address and in total is capped, so unauthenticated clients cannot fill the memory, and so is
// the number drawn per address and minute, so they cannot keep the CPU busy drawing pictures.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { Element, xml } from '../../xml/element.js';
import { buildForm, formValue, type DataForm } from '../dataforms.js';
import { CAPTCHA_HEIGHT, CAPTCHA_WIDTH, renderCaptchaPng } from './image.js';

export const NS_CAPTCHA = 'urn:xmpp:captcha';
export const NS_BOB = 'urn:xmpp:bob';
export const NS_MEDIA = 'urn:xmpp:media-element';

export interface Question {
  question: string;
  /** Accepted answers, compared without case, surrounding spaces or inner space runs. */
  answers: string[];
}

export interface Challenge {
  id: string;
  sessionId: string;
  address: string;
  /** The digits in the picture. */
  ocr: string;
  qa: Question;
  png: Buffer;
  /** XEP-0231 content id: sha1+HEX@bob.xmpp.org. */
  cid: string;
  expires: number;
}

/** What the `captcha-issued` hook gets (logging, and tests that must answer a challenge). */
export interface CaptchaIssuedEvent {
  challenge: Challenge;
}

export interface ChallengeLimits {
  /** Challenges waiting at once from one network address. */
  perAddress: number;
  /** Challenges waiting at once on this host. */
  total: number;
  /** New challenges per minute from one network address (each one costs a picture to draw). */
  perMinute: number;
}

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen'];

/** The built-in question: a sum of two small numbers written as words. */
export function arithmeticQuestion(): Question {
  const a = randomInt(1, 10);
  const b = randomInt(1, 10);
  return { question: `What is ${WORDS[a]} plus ${WORDS[b]}? (Write the number.)`, answers: [String(a + b), WORDS[a + b]!] };
}

/** Validates admin-written questions (modules.register.questions); returns the usable ones and the problems. */
export function parseQuestions(v: unknown): { questions: Question[]; problems: string[] } {
  const questions: Question[] = [];
  const problems: string[] = [];
  if (v === undefined) return { questions, problems };
  if (!Array.isArray(v)) return { questions, problems: ['modules.register.questions must be a list of { question, answers }'] };
  v.forEach((q, i) => {
    const o = q as Partial<Question> | null;
    const answers = typeof o?.answers === 'string' ? [o.answers] : o?.answers;
    if (!o || typeof o.question !== 'string' || o.question.trim() === '' || !Array.isArray(answers) || answers.length === 0 || !answers.every((a) => typeof a === 'string' && normalise(a) !== '')) {
      problems.push(`modules.register.questions[${i}] needs a question text and at least one answer`);
    } else questions.push({ question: o.question.trim(), answers: answers.map(String) });
  });
  return { questions, problems };
}

export function normalise(s: string): string {
  return s.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
}

export class CaptchaChallenges {
  private readonly pending = new Map<string, Challenge>();
  /** When each address last got challenges (the last minute only). */
  private readonly issued = new Map<string, number[]>();

  constructor(
    private readonly limits: () => ChallengeLimits,
    private readonly ttlMs: () => number,
    private readonly questions: () => Question[],
  ) {}

  /** A new challenge for this stream, or undefined when too many are waiting. */
  issue(sessionId: string, address: string, now = Date.now()): Challenge | undefined {
    this.sweep(now);
    const { perAddress, total, perMinute } = this.limits();
    // A stream asking again replaces its own challenge: one per stream is enough.
    for (const [id, c] of this.pending) if (c.sessionId === sessionId) this.pending.delete(id);
    let fromAddress = 0;
    for (const c of this.pending.values()) if (c.address === address) fromAddress++;
    if (fromAddress >= perAddress || this.pending.size >= total) return undefined;
    // Asking again and again on one stream would otherwise make the server draw without end.
    const recent = (this.issued.get(address) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= perMinute) return undefined;
    recent.push(now);
    this.issued.set(address, recent);
    let ocr = '';
    for (let i = 0; i < 6; i++) ocr += String(randomInt(0, 10));
    const custom = this.questions();
    const qa = custom.length > 0 ? custom[randomInt(0, custom.length)]! : arithmeticQuestion();
    const png = renderCaptchaPng(ocr);
    const challenge: Challenge = {
      id: randomBytes(12).toString('hex'),
      sessionId,
      address,
      ocr,
      qa,
      png,
      cid: `sha1+${createHash('sha1').update(png).digest('hex')}@bob.xmpp.org`,
      expires: now + this.ttlMs(),
    };
    this.pending.set(challenge.id, challenge);
    return challenge;
  }

  /** Removes and returns the challenge when it belongs to this stream and has not expired. */
  take(id: string | undefined, sessionId: string, now = Date.now()): Challenge | undefined {
    if (id === undefined) return undefined;
    const c = this.pending.get(id);
    if (!c || c.sessionId !== sessionId) return undefined;
    this.pending.delete(id);
    return c.expires > now ? c : undefined;
  }

  /** The picture of a waiting challenge of this stream (XEP-0231 §3.2 retrieval). */
  byCid(cid: string, sessionId: string): Challenge | undefined {
    for (const c of this.pending.values()) if (c.cid === cid && c.sessionId === sessionId) return c;
    return undefined;
  }

  size(): number {
    return this.pending.size;
  }

  private sweep(now: number): void {
    for (const [id, c] of this.pending) if (c.expires <= now) this.pending.delete(id);
    for (const [addr, times] of this.issued) if (!times.some((t) => t > now - 60_000)) this.issued.delete(addr);
  }
}

/** True when the submitted form answers the challenge (one right answer is enough). */
export function answered(c: Challenge, form: DataForm): boolean {
  const ocr = formValue(form, 'ocr');
  if (ocr !== undefined && ocr.replace(/\s+/g, '') === c.ocr) return true;
  const qa = formValue(form, 'qa');
  return qa !== undefined && c.qa.answers.some((a) => normalise(a) === normalise(qa));
}

/**
 * The registration form with the challenge (XEP-0158 §5): FORM_TYPE urn:xmpp:captcha, the
 * challenge id, the triggering iq's id as 'sid', username and password, the picture field and
 * the question field.
 */
export function captchaRegistrationForm(c: Challenge, host: string, sid: string | undefined, instructions: string): Element {
  const form = buildForm({
    type: 'form',
    title: 'Account registration',
    instructions: [instructions],
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS_CAPTCHA] },
      { var: 'from', type: 'hidden', values: [host] },
      { var: 'challenge', type: 'hidden', values: [c.id] },
      ...(sid !== undefined ? [{ var: 'sid', type: 'hidden' as const, values: [sid] }] : []),
      { var: 'answers', type: 'hidden', values: ['1'] },
      { var: 'username', type: 'text-single', label: 'Username', required: true, values: [] },
      { var: 'password', type: 'text-private', label: 'Password', required: true, values: [] },
      { var: 'ocr', type: 'text-single', label: 'Enter the digits you see', values: [] },
      { var: 'qa', type: 'text-single', label: c.qa.question, values: [] },
    ],
  });
  const ocrField = form.getChildren('field').find((f) => f.attrs.var === 'ocr')!;
  ocrField.append(
    xml('media', { xmlns: NS_MEDIA, width: String(CAPTCHA_WIDTH), height: String(CAPTCHA_HEIGHT) }, xml('uri', { type: 'image/png' }, `cid:${c.cid}`)),
  );
  return form;
}

/** XEP-0231 <data/>: the picture itself, not to be cached (max-age 0: it is good for one try). */
export function bobData(c: Challenge): Element {
  return xml('data', { xmlns: NS_BOB, cid: c.cid, type: 'image/png', 'max-age': '0' }, c.png.toString('base64'));
}
