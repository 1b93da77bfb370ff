// XEP-0082: XMPP Date and Time Profiles
// https://xmpp.org/extensions/xep-0082.html
// Version 1.1.1 (2013-12-02)
//
// The DateTime profile (CCYY-MM-DDThh:mm:ss[.sss]TZD, TZD = Z or ±hh:mm) used by MAM 'start'
// and 'end', delayed delivery stamps and extdisco 'expires'. Parsing is strict: JavaScript's
// Date.parse accepts many other shapes (and local time), which would let a typo become a
// silently wrong time window.

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch, or undefined when `s` is not an XEP-0082 DateTime. */
export function parseDateTime(s: string): number | undefined {
  const m = DATETIME.exec(s.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, tz] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(sec);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, Math.min(second, 59));
  // Date.UTC rolls 31 February over into March; the calendar day must survive the round trip.
  if (new Date(ms).getUTCDate() !== day) return undefined;
  if (frac) ms += Math.floor(Number('0' + frac) * 1000);
  if (tz !== 'Z') {
    const sign = tz!.startsWith('-') ? -1 : 1;
    const [th, tm] = tz!.slice(1).split(':').map(Number);
    if (th! > 23 || tm! > 59) return undefined;
    ms -= sign * (th! * 60 + tm!) * 60_000;
  }
  return ms;
}

/** UTC DateTime with milliseconds when there are any (MAM results keep their order visible). */
export function formatDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
