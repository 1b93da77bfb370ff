// Step 8: what the admin tells users, and what is still red.
import { hostOf } from '../answers.js';
import { srvPorts } from './dns.js';
import type { ApplyResult } from './apply.js';
import type { SetupState } from './context.js';

export interface DoneInfo {
  /** What users type in their chat app: the domain (their address is name@domain). */
  domain: string;
  host: string;
  ports: Array<{ port: number; what: string }>;
  adminAddress?: string;
  inviteUri?: string;
  inviteQr?: string;
  inviteExpires?: string;
  /** Everything that is not right yet, in plain words (red setup results + red checks). */
  remaining: string[];
  /** Notes the admin chose to continue with. */
  notes: string[];
  ok: boolean;
  instructions?: string;
  certWarning?: string;
}

export function doneInfo(state: SetupState, r: ApplyResult): DoneInfo {
  const a = state.answers;
  const p = srvPorts(a, state.existing);
  const ports: DoneInfo['ports'] = [];
  if (p.c2s !== false) ports.push({ port: p.c2s, what: 'chat apps (STARTTLS)' });
  if (p.c2sDirectTls !== false) ports.push({ port: p.c2sDirectTls, what: 'chat apps (direct TLS)' });
  if (p.s2s !== false) ports.push({ port: p.s2s, what: 'other chat servers (federation)' });
  if (a.cert.mode === 'letsencrypt' && a.cert.challenge === 'http-01') ports.push({ port: a.cert.httpPort, what: "certificate renewal (Let's Encrypt)" });
  const admin =
    a.accounts === 'local'
      ? a.admin.username
        ? `${a.admin.username}@${a.domain}`
        : undefined
      : state.ldap?.adminGroupMembers.length
        ? `${state.ldap.adminGroupMembers[0]}@${a.domain} (members of ${a.ldap.adminGroup || 'jabberadmins'})`
        : undefined;
  const remaining = [...state.warnings.filter((w) => w.level === 'red').map((w) => w.message), ...r.problems];
  const notes = state.warnings.filter((w) => w.level === 'warn').map((w) => w.message);
  return {
    domain: a.domain,
    host: hostOf(a),
    ports,
    ...(admin ? { adminAddress: admin } : {}),
    ...(r.invite ? { inviteUri: r.invite.uri, inviteQr: r.invite.qr, inviteExpires: r.invite.expires } : {}),
    remaining: [...new Set(remaining)],
    notes: [...new Set(notes)],
    ok: r.ok,
    ...(r.instructions ? { instructions: r.instructions } : {}),
    ...(state.cert?.userWarning ? { certWarning: state.cert.userWarning } : {}),
  };
}

/** The Done screen as plain text (unattended runs print it). */
export function renderDoneText(d: DoneInfo): string {
  const lines = [
    d.ok ? `Roost is set up for ${d.domain}.` : `Roost is set up for ${d.domain}, with problems (below).`,
    '',
    `Users type: ${d.domain}  (their address is name@${d.domain})`,
    ...(d.host !== d.domain ? [`Server: ${d.host}`] : []),
    `Ports to open in the firewall: ${d.ports.map((p) => `${p.port} for ${p.what}`).join('; ')}`,
    ...(d.adminAddress ? [`First administrator: ${d.adminAddress}`] : []),
  ];
  if (d.inviteUri) lines.push('', `Invitation link (valid until ${d.inviteExpires?.slice(0, 10)}): ${d.inviteUri}`, d.inviteQr ?? '');
  if (d.certWarning) lines.push('', d.certWarning);
  if (d.instructions) lines.push('', d.instructions);
  if (d.notes.length) lines.push('', 'Notes:', ...d.notes.map((m) => `  ! ${m}`));
  if (d.remaining.length) lines.push('', 'Still to fix:', ...d.remaining.map((m) => `  ✘ ${m}`));
  else lines.push('', 'Everything checked out.');
  return `${lines.join('\n')}\n`;
}
