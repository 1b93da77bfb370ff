// XEP-0377: Spam Reporting (Blocking Command Reports)
// https://xmpp.org/extensions/xep-0377.html
// Version 0.4.1 (2026-02-25), plus the 0.2 form Conversations still sends
//
// A report rides on a block (XEP-0191): the blocking module blocks as usual and fires
// `blocking-report`; this module records the report for the admin and writes one info log line.
// Reported messages named by stanza-id are copied from the reporter's own archive (MAM store),
// so the admin sees what was reported even after the reporter deletes their history.
// Nothing is forwarded anywhere (the report-origin / third-party opt-ins are recorded only).
//
// Store: keyval 'spam-reports', owner = the reporter's domain, key = '<ms>-<random>', value
// SpamReportRecord. Read by `roost reports`.
// Options (modules.spam-reporting): maxMessages (default 20) reported messages copied per report,
// maxMessageSize (default 16384) bytes kept of each, maxTextLength (default 4000), perReporterPerDay
// (default 50) reports recorded per reporting account per day (the block itself always happens).
import { randomBytes } from 'node:crypto';
import { defineModule } from '../core/module.js';
import type { JsonValue } from '../storage/types.js';
import {
  FEATURE_REASON_ABUSE_0,
  FEATURE_REASON_SPAM_0,
  NS_REPORTING,
  NS_REPORTING_0,
  parseReport,
} from '../xmpp/xep0377.js';
import type { BlockReportEvent } from './blocking.js';

export const REPORTS_STORE = 'spam-reports';

/** One stored report. */
export interface SpamReportRecord {
  when: number;
  reporter: string;
  reported: string;
  reason: string;
  text?: string;
  optIn: string[];
  /** Stanza ids the reporter named. */
  stanzaIds: string[];
  /** Those found in the reporter's archive, as stored (truncated to maxMessageSize). */
  messages: { id: string; when: number; xml: string }[];
}

function numOption(v: unknown, def: number): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : def;
}

export default defineModule({
  name: 'spam-reporting',
  spec: 'XEP-0377: Spam Reporting',
  load(api) {
    const reports = api.keyval(REPORTS_STORE);
    const archive = api.archive('mam');
    const maxMessages = numOption(api.options.maxMessages, 20);
    const maxMessageSize = numOption(api.options.maxMessageSize, 16384);
    const maxText = numOption(api.options.maxTextLength, 4000);
    const perDay = numOption(api.options.perReporterPerDay, 50);
    // Reports per reporter in the current day, so one account cannot fill the store.
    let day = Math.floor(Date.now() / 86_400_000);
    const counts = new Map<string, number>();

    api.disco.addFeature(NS_REPORTING);
    api.disco.addFeature(NS_REPORTING_0);
    api.disco.addFeature(FEATURE_REASON_SPAM_0);
    api.disco.addFeature(FEATURE_REASON_ABUSE_0);

    api.hook<BlockReportEvent>('blocking-report', async ({ username, host, jid, item }) => {
      const report = parseReport(item, maxMessages);
      if (!report) return;
      const reporter = `${username}@${host}`;
      const today = Math.floor(Date.now() / 86_400_000);
      if (today !== day) {
        day = today;
        counts.clear();
      }
      const n = counts.get(reporter) ?? 0;
      if (n >= perDay) {
        api.log.warn('spam report not recorded: daily limit reached', { reporter, reported: jid, limit: perDay });
        return;
      }
      counts.set(reporter, n + 1);
      const ids = [...new Set(report.stanzaIds.map((s) => s.id))];
      let messages: SpamReportRecord['messages'] = [];
      if (ids.length > 0) {
        try {
          const found = await archive.query(reporter, { ids, limit: ids.length });
          messages = found.items.map((i) => ({ id: i.id, when: i.when, xml: i.xml.length > maxMessageSize ? i.xml.slice(0, maxMessageSize) : i.xml }));
        } catch (e) {
          // Ids the archive does not know (or a bad id) do not stop the report.
          api.log.debug('reported messages not found', { error: String(e) });
        }
      }
      const rec: SpamReportRecord = {
        when: Date.now(),
        reporter,
        reported: jid,
        reason: report.reason,
        optIn: report.optIn,
        stanzaIds: ids,
        messages,
      };
      if (report.text !== undefined) rec.text = report.text.slice(0, maxText);
      const key = `${String(rec.when).padStart(15, '0')}-${randomBytes(4).toString('hex')}`;
      await reports.set(host, key, rec as unknown as JsonValue);
      api.log.info('spam report', { reporter, reported: jid, reason: report.reason, messages: messages.length, id: key });
    });
  },
});
