// `roost reports`: the spam and abuse reports users sent with a block (XEP-0377), newest first,
// read from the daemon's storage (keyval 'spam-reports', written by modules/spam-reporting.ts).
// Works while the daemon runs (same database).
import { parseStoredXml } from '../modules/im/xml-parse.js';
import { REPORTS_STORE, type SpamReportRecord } from '../modules/spam-reporting.js';
import { REASON_ABUSE, REASON_SPAM } from '../xmpp/xep0377.js';
import type { CliIo } from './main.js';
import { configOrExit, configPathOf, parseOrUsage, servedDomain, withStorage } from './options.js';

const USAGE = `usage: roost reports [--host DOMAIN] [--limit N] [--json] [--config FILE]
Lists the spam/abuse reports people sent when blocking someone, newest first (default: 50).`;

interface Listed extends SpamReportRecord {
  id: string;
  host: string;
}

function isRecord(v: unknown): v is SpamReportRecord {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const r = v as Record<string, unknown>;
  return typeof r.when === 'number' && typeof r.reporter === 'string' && typeof r.reported === 'string' && typeof r.reason === 'string';
}

function reasonName(r: string): string {
  if (r === REASON_SPAM) return 'spam';
  if (r === REASON_ABUSE) return 'abuse';
  return r;
}

/** One line of a reported message: its body, or what kind of stanza it is. */
function summary(xmlText: string): string {
  const el = parseStoredXml(xmlText);
  if (!el) return '(unreadable)';
  const body = el.getChildText('body');
  const text = body !== undefined ? body : `<${el.name}> without text`;
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? oneLine.slice(0, 197) + '...' : oneLine;
}

export async function runReports(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseOrUsage('reports', argv, ['config', 'host', 'limit'], USAGE, io.stderr);
  if (typeof parsed === 'number') return parsed;
  if (parsed.positional.length > 0) {
    io.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const limitFlag = parsed.flags.get('limit');
  const limit = typeof limitFlag === 'string' ? Number(limitFlag) : 50;
  if (!Number.isInteger(limit) || limit < 1) {
    io.stderr.write(`roost reports: --limit needs a positive whole number\n`);
    return 2;
  }
  const config = await configOrExit(configPathOf(parsed), io.stderr);
  if (typeof config === 'number') return config;
  let hosts = config.hosts;
  const hostFlag = parsed.flags.get('host');
  if (typeof hostFlag === 'string') {
    try {
      hosts = [servedDomain(hostFlag, config)];
    } catch (e) {
      io.stderr.write(`roost reports: ${(e as Error).message}\n`);
      return 2;
    }
  }
  return withStorage('reports', config, io.stderr, async (storage) => {
    const kv = storage.keyval(REPORTS_STORE);
    const all: Listed[] = [];
    for (const host of hosts) {
      for (const [id, v] of await kv.getAll(host)) if (isRecord(v)) all.push({ ...(v as SpamReportRecord), id, host });
    }
    all.sort((a, b) => b.when - a.when || (a.id < b.id ? 1 : -1));
    const shown = all.slice(0, limit);
    if (parsed.flags.get('json') === true) {
      io.stdout.write(JSON.stringify({ total: all.length, reports: shown }, null, 2) + '\n');
      return 0;
    }
    if (all.length === 0) {
      io.stdout.write('no reports\n');
      return 0;
    }
    for (const r of shown) {
      const when = new Date(r.when).toISOString().replace(/\.\d{3}Z$/, 'Z');
      io.stdout.write(`${when}  ${reasonName(r.reason)}  ${r.reported}  reported by ${r.reporter}  [${r.id}]\n`);
      if (r.text) io.stdout.write(`    says: ${r.text.replace(/\s+/g, ' ')}\n`);
      if (r.optIn.length > 0) io.stdout.write(`    agrees to: ${r.optIn.join(', ')}\n`);
      for (const m of r.messages) io.stdout.write(`    message ${new Date(m.when).toISOString()}: ${summary(m.xml)}\n`);
      const missing = r.stanzaIds.filter((id) => !r.messages.some((m) => m.id === id));
      if (missing.length > 0) io.stdout.write(`    ${missing.length} named message(s) not found in the reporter's archive\n`);
    }
    if (all.length > shown.length) io.stdout.write(`(${all.length - shown.length} older not shown; use --limit)\n`);
    return 0;
  });
}
