// XEP-0377: Spam Reporting (now "Blocking Command Reports")
// https://xmpp.org/extensions/xep-0377.html
// Version 0.4.1 (2026-02-25); the 0.2 form (urn:xmpp:reporting:0 with <spam/>/<abuse/> children
// and the urn:xmpp:reporting:reason:*:0 features Conversations looks for) is read as well.
//
// A <report/> inside a blocking <item/>: a reason, optional <text/>, optional stanza-ids of the
// reported messages, and processing opt-ins.
import type { Element } from '../xml/element.js';
import { NS_SID } from './xep0359.js';

export const NS_REPORTING = 'urn:xmpp:reporting:1';
export const NS_REPORTING_0 = 'urn:xmpp:reporting:0';
export const REASON_SPAM = 'urn:xmpp:reporting:spam';
export const REASON_ABUSE = 'urn:xmpp:reporting:abuse';
export const FEATURE_REASON_SPAM_0 = 'urn:xmpp:reporting:reason:spam:0';
export const FEATURE_REASON_ABUSE_0 = 'urn:xmpp:reporting:reason:abuse:0';

export interface Report {
  reason: string;
  text?: string;
  stanzaIds: { id: string; by?: string }[];
  /** Processing the reporter agreed to (report-origin, third-party). */
  optIn: string[];
}

/** The report in a blocking item, in either namespace; undefined when the item has none. */
export function parseReport(item: Element, maxIds: number): Report | undefined {
  const r1 = item.getChild('report', NS_REPORTING);
  const r0 = r1 ? undefined : item.getChild('report', NS_REPORTING_0);
  const r = r1 ?? r0;
  if (!r) return undefined;
  let reason: string;
  if (r1) reason = r1.attrs.reason || REASON_SPAM;
  else reason = r0!.getChild('abuse') ? REASON_ABUSE : REASON_SPAM;
  const text = r.getChildren('text').map((t) => t.text().trim()).filter((t) => t !== '').join('\n');
  const stanzaIds = r
    .getChildren('stanza-id', NS_SID)
    .filter((s) => typeof s.attrs.id === 'string' && s.attrs.id !== '')
    .slice(0, maxIds)
    .map((s) => (s.attrs.by === undefined ? { id: s.attrs.id! } : { id: s.attrs.id!, by: s.attrs.by }));
  const optIn = ['report-origin', 'third-party'].filter((n) => r.getChild(n) !== undefined);
  const out: Report = { reason, stanzaIds, optIn };
  if (text !== '') out.text = text;
  return out;
}
