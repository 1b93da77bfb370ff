// XEP-0045: Multi-User Chat — the room configuration form (muc#roomconfig)
// https://xmpp.org/extensions/xep-0045.html
// Version 1.35.1 (2024-09-17), §10.2 and §15.5.3; XEP-0004: Data Forms 2.13.2 for field types.
//
// The owner gets the form with the current values and submits it back; a submission is checked
// field by field before anything changes, and a wrong value is refused (not-acceptable) with a
// text naming the field, as §10.2 asks. Fields nobody knows are ignored (XEP-0004 §3.2), so
// clients that send extra fields still work. Names beyond the registry follow Prosody
// (muc#roomconfig_enablearchiving, muc#roomconfig_historylength) or are Roost's own in Clark
// notation.
import { tryParseJid } from '../../core/jid.js';
import { buildForm, parseBoolean, type FormField } from '../dataforms.js';
import type { Element } from '../../xml/element.js';
import { NS_MUC_ROOMCONFIG, ROOST_FIELD } from './namespaces.js';
import { ROLES, type PmPolicy, type Role, type RoomConfig, type Whois } from './types.js';

export interface ServiceDefaults {
  persistentByDefault: boolean;
  subjectChange: 'moderators' | 'participants';
  historyLength: number;
  maxHistoryLength: number;
  maxOccupants: number;
  archiveRetentionDays: number;
}

export function defaultConfig(d: ServiceDefaults, roomLocal: string): RoomConfig {
  return {
    name: roomLocal,
    description: '',
    lang: '',
    persistent: d.persistentByDefault,
    public: true,
    membersOnly: false,
    moderated: false,
    password: '',
    whois: 'moderators',
    changeSubject: d.subjectChange === 'participants',
    allowInvites: false,
    allowPm: 'anyone',
    maxUsers: d.maxOccupants,
    presenceBroadcast: ['moderator', 'participant', 'visitor'],
    getMemberList: ['moderator', 'participant', 'visitor'],
    archive: true,
    historyLength: d.historyLength,
    retentionDays: null,
    allowVoiceRequests: true,
  };
}

/** The stored form of a config may miss keys added later: fill them from the defaults. */
export function restoreConfig(stored: unknown, defaults: RoomConfig): RoomConfig {
  const out: RoomConfig = { ...defaults };
  if (!stored || typeof stored !== 'object' || Array.isArray(stored)) return out;
  const s = stored as Record<string, unknown>;
  for (const k of Object.keys(defaults) as (keyof RoomConfig)[]) {
    const v = s[k];
    const d = defaults[k];
    if (k === 'retentionDays') {
      if (v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0)) out.retentionDays = v as number | null;
      continue;
    }
    if (Array.isArray(d)) {
      if (Array.isArray(v) && v.every((r) => (ROLES as readonly unknown[]).includes(r))) (out as unknown as Record<string, unknown>)[k] = v;
    } else if (typeof v === typeof d) (out as unknown as Record<string, unknown>)[k] = v;
  }
  return out;
}

const F = {
  name: 'muc#roomconfig_roomname',
  description: 'muc#roomconfig_roomdesc',
  lang: 'muc#roomconfig_lang',
  persistent: 'muc#roomconfig_persistentroom',
  public: 'muc#roomconfig_publicroom',
  membersOnly: 'muc#roomconfig_membersonly',
  moderated: 'muc#roomconfig_moderatedroom',
  passwordProtected: 'muc#roomconfig_passwordprotectedroom',
  password: 'muc#roomconfig_roomsecret',
  whois: 'muc#roomconfig_whois',
  changeSubject: 'muc#roomconfig_changesubject',
  allowInvites: 'muc#roomconfig_allowinvites',
  allowPm: 'muc#roomconfig_allowpm',
  maxUsers: 'muc#roomconfig_maxusers',
  presenceBroadcast: 'muc#roomconfig_presencebroadcast',
  getMemberList: 'muc#roomconfig_getmemberlist',
  archive: 'muc#roomconfig_enablearchiving',
  logging: 'muc#roomconfig_enablelogging',
  historyLength: 'muc#roomconfig_historylength',
  retentionDays: `${ROOST_FIELD}archiveretentiondays`,
  allowVoiceRequests: `${ROOST_FIELD}allowvoicerequests`,
  admins: 'muc#roomconfig_roomadmins',
  owners: 'muc#roomconfig_roomowners',
} as const;

const bool = (v: boolean) => [v ? '1' : '0'];
const roleOptions = [
  { label: 'Moderator', value: 'moderator' },
  { label: 'Participant', value: 'participant' },
  { label: 'Visitor', value: 'visitor' },
];

/** The form an owner fills in (§10.1.3 / §10.2). */
export function buildConfigForm(c: RoomConfig, d: ServiceDefaults, owners: string[], admins: string[]): Element {
  const fields: FormField[] = [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS_MUC_ROOMCONFIG] },
    { var: F.name, type: 'text-single', label: 'Title', values: [c.name] },
    { var: F.description, type: 'text-single', label: 'Description', values: [c.description] },
    { var: F.lang, type: 'text-single', label: 'Language of discussion', values: [c.lang] },
    { var: F.persistent, type: 'boolean', label: 'Keep the room when everyone has left', values: bool(c.persistent) },
    { var: F.public, type: 'boolean', label: 'List the room in the public directory', values: bool(c.public) },
    { var: F.membersOnly, type: 'boolean', label: 'Only members may enter', values: bool(c.membersOnly) },
    { var: F.moderated, type: 'boolean', label: 'Only participants with voice may speak (moderated)', values: bool(c.moderated) },
    { var: F.passwordProtected, type: 'boolean', label: 'A password is needed to enter', values: bool(c.password !== '') },
    { var: F.password, type: 'text-private', label: 'Password', values: [c.password] },
    {
      var: F.whois,
      type: 'list-single',
      label: 'Who may see the real addresses of occupants',
      values: [c.whois],
      options: [
        { label: 'Moderators only', value: 'moderators' },
        { label: 'Anyone', value: 'anyone' },
      ],
    },
    { var: F.changeSubject, type: 'boolean', label: 'Participants may change the subject', values: bool(c.changeSubject) },
    { var: F.allowInvites, type: 'boolean', label: 'Occupants may invite others to a members-only room', values: bool(c.allowInvites) },
    {
      var: F.allowPm,
      type: 'list-single',
      label: 'Who may send private messages',
      values: [c.allowPm],
      options: [
        { label: 'Anyone', value: 'anyone' },
        { label: 'Participants and moderators', value: 'participants' },
        { label: 'Moderators only', value: 'moderators' },
        { label: 'Nobody', value: 'none' },
      ],
    },
    {
      var: F.maxUsers,
      type: 'list-single',
      label: `Most occupants at once (up to ${d.maxOccupants})`,
      values: [String(c.maxUsers)],
      options: [...new Set([10, 20, 50, 100, 200, 500, 1000, d.maxOccupants, c.maxUsers])]
        .filter((n) => n <= d.maxOccupants)
        .sort((a, b) => a - b)
        .map((n) => ({ value: String(n) })),
    },
    { var: F.presenceBroadcast, type: 'list-multi', label: 'Roles whose presence is shown', values: [...c.presenceBroadcast], options: roleOptions },
    { var: F.getMemberList, type: 'list-multi', label: 'Roles that may see the member list', values: [...c.getMemberList], options: roleOptions },
    { var: F.archive, type: 'boolean', label: 'Keep the room history on the server (archive)', values: bool(c.archive) },
    { var: F.historyLength, type: 'text-single', label: `Messages shown on entering (up to ${d.maxHistoryLength})`, values: [String(c.historyLength)] },
    {
      var: F.retentionDays,
      type: 'text-single',
      label: `Days the history is kept (0: forever; empty: the server's ${d.archiveRetentionDays})`,
      values: [c.retentionDays === null ? '' : String(c.retentionDays)],
    },
    { var: F.allowVoiceRequests, type: 'boolean', label: 'Visitors may ask for voice', values: bool(c.allowVoiceRequests) },
    { var: F.admins, type: 'jid-multi', label: 'Room admins', values: admins },
    { var: F.owners, type: 'jid-multi', label: 'Room owners', values: owners },
  ];
  return buildForm({
    type: 'form',
    title: `Configuration of ${c.name}`,
    instructions: ['Complete this form to change the room settings.'],
    fields,
  });
}

export interface ConfigSubmission {
  config: RoomConfig;
  /** Present when the form set the owner/admin lists (bare JIDs, prepared). */
  owners?: string[];
  admins?: string[];
}

export class ConfigFormError extends Error {}

/**
 * Applies a submitted form to `current`. Throws ConfigFormError naming the first bad field;
 * fields left out keep their value.
 */
export function applyConfigSubmission(current: RoomConfig, values: Map<string, string[]>, d: ServiceDefaults): ConfigSubmission {
  const c: RoomConfig = { ...current, presenceBroadcast: [...current.presenceBroadcast], getMemberList: [...current.getMemberList] };
  const out: ConfigSubmission = { config: c };
  const one = (name: string): string | undefined => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    if (v.length > 1) throw new ConfigFormError(`${name} takes one value, got ${v.length}`);
    return v[0] ?? '';
  };
  const boolean = (name: string): boolean | undefined => {
    const v = one(name);
    if (v === undefined) return undefined;
    const b = parseBoolean(v.trim());
    if (b === undefined) throw new ConfigFormError(`${name} must be a boolean (1, 0, true or false), got "${clip(v)}"`);
    return b;
  };
  const integer = (name: string, min: number, max: number): number | undefined => {
    const v = one(name);
    if (v === undefined) return undefined;
    const t = v.trim();
    if (!/^\d+$/.test(t)) throw new ConfigFormError(`${name} must be a whole number, got "${clip(v)}"`);
    const n = Number(t);
    if (n < min || n > max) throw new ConfigFormError(`${name} must be between ${min} and ${max}, got ${n}`);
    return n;
  };
  const text = (name: string, max: number): string | undefined => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    // text-multi values arrive as several lines; keep them as one text.
    const s = v.join('\n');
    if (s.length > max) throw new ConfigFormError(`${name} is longer than ${max} characters`);
    return s;
  };
  const roles = (name: string): Role[] | undefined => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    const bad = v.find((r) => r !== 'moderator' && r !== 'participant' && r !== 'visitor');
    if (bad !== undefined) throw new ConfigFormError(`${name} takes moderator, participant or visitor, got "${clip(bad)}"`);
    return [...new Set(v)] as Role[];
  };
  const jids = (name: string): string[] | undefined => {
    const v = values.get(name);
    if (v === undefined) return undefined;
    const list: string[] = [];
    for (const raw of v) {
      if (raw.trim() === '') continue;
      const j = tryParseJid(raw.trim());
      if (!j) throw new ConfigFormError(`${name}: "${clip(raw)}" is not a valid address`);
      list.push(j.bare);
    }
    return [...new Set(list)];
  };

  const name = text(F.name, 200);
  if (name !== undefined) c.name = name;
  const desc = text(F.description, 2000);
  if (desc !== undefined) c.description = desc;
  const lang = one(F.lang);
  if (lang !== undefined) {
    if (lang !== '' && !/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(lang)) throw new ConfigFormError(`${F.lang} must be a language tag such as en or de-CH, got "${clip(lang)}"`);
    c.lang = lang;
  }
  for (const [key, field] of [
    ['persistent', F.persistent],
    ['public', F.public],
    ['membersOnly', F.membersOnly],
    ['moderated', F.moderated],
    ['changeSubject', F.changeSubject],
    ['allowInvites', F.allowInvites],
    ['allowVoiceRequests', F.allowVoiceRequests],
  ] as const) {
    const b = boolean(field);
    if (b !== undefined) c[key] = b;
  }
  // enablelogging is the registry's name for the same switch; a form may carry either.
  const archive = boolean(F.archive) ?? boolean(F.logging);
  if (archive !== undefined) c.archive = archive;

  const protectedRoom = boolean(F.passwordProtected);
  const secret = one(F.password);
  if (secret !== undefined && secret.length > 256) throw new ConfigFormError(`${F.password} is longer than 256 characters`);
  if (protectedRoom === false) c.password = '';
  else if (secret !== undefined) c.password = secret;
  if (protectedRoom === true && c.password === '') throw new ConfigFormError(`${F.passwordProtected} is on but ${F.password} is empty`);

  const whois = one(F.whois);
  if (whois !== undefined) {
    if (whois !== 'moderators' && whois !== 'anyone') throw new ConfigFormError(`${F.whois} must be moderators or anyone, got "${clip(whois)}"`);
    c.whois = whois as Whois;
  }
  const pm = one(F.allowPm);
  if (pm !== undefined) {
    if (!['anyone', 'participants', 'moderators', 'none'].includes(pm)) throw new ConfigFormError(`${F.allowPm} must be anyone, participants, moderators or none, got "${clip(pm)}"`);
    c.allowPm = pm as PmPolicy;
  }
  const maxRaw = one(F.maxUsers);
  if (maxRaw !== undefined) {
    // 'none' (no limit of the room's own) means the service's limit.
    c.maxUsers = maxRaw.trim() === 'none' || maxRaw.trim() === '' ? d.maxOccupants : integer(F.maxUsers, 1, d.maxOccupants)!;
  }
  const pb = roles(F.presenceBroadcast);
  if (pb !== undefined) c.presenceBroadcast = pb;
  const gml = roles(F.getMemberList);
  if (gml !== undefined) c.getMemberList = gml;
  const hl = integer(F.historyLength, 0, d.maxHistoryLength);
  if (hl !== undefined) c.historyLength = hl;
  const ret = one(F.retentionDays);
  if (ret !== undefined) c.retentionDays = ret.trim() === '' ? null : integer(F.retentionDays, 0, 100_000)!;

  const owners = jids(F.owners);
  if (owners !== undefined) {
    if (owners.length === 0) throw new ConfigFormError(`${F.owners} cannot be empty: a room needs an owner`);
    out.owners = owners;
  }
  const admins = jids(F.admins);
  if (admins !== undefined) out.admins = admins;
  return out;
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}
