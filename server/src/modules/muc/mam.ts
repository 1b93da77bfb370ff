// XEP-0313: Message Archive Management on a room's bare JID
// https://xmpp.org/extensions/xep-0313.html
// Version 1.1.3 (2025-04-09): §4 (queries: with/start/end, before-id/after-id/ids of #extended,
// RSM paging, flip-page), §5 (metadata), §6.1.2 (MUC archives: access, no 'to' on forwarded
// messages, real JIDs only to those allowed to see them).
// XEP-0059: Result Set Management 1.0 (max/after/before, first/last/count).
//
// Access follows §6.1.2: a members-only room's archive is for its members (and admins and
// owners); an open room's for anyone not banned. Text search uses Roost's archive store
// (field {urn:xmpp:fulltext:0}fulltext, as Prosody names it).
import type { StanzaEvent } from '../../core/module.js';
import type { ArchiveQuery } from '../../storage/types.js';
import { StorageError } from '../../storage/errors.js';
import { buildForm, formType, formValues, parseForm } from '../dataforms.js';
import { xml, type Element } from '../../xml/element.js';
import { parseDateTime, stamp } from './history.js';
import { NS_DELAY, NS_FORWARD, NS_MAM, NS_MUC_USER, NS_RSM } from './namespaces.js';
import type { Room } from './room.js';
import { AFFILIATION_RANK } from './types.js';

const FULLTEXT = '{urn:xmpp:fulltext:0}fulltext';
const KNOWN = new Set(['FORM_TYPE', 'with', 'start', 'end', 'before-id', 'after-id', 'ids', FULLTEXT]);

class QueryError extends Error {
  constructor(
    readonly condition: 'bad-request' | 'feature-not-implemented' | 'item-not-found',
    message: string,
  ) {
    super(message);
  }
}

function mayRead(room: Room, ev: StanzaEvent): string | undefined {
  const aff = room.affiliationOf(ev.from);
  if (aff === 'outcast') return 'you are banned from this room';
  if (room.config.membersOnly && AFFILIATION_RANK[aff] < AFFILIATION_RANK.member) return "only members may read this room's history";
  return undefined;
}

export async function handleMam(room: Room, ev: StanzaEvent): Promise<void> {
  const ctx = room.ctx;
  const { stanza } = ev;
  if (!room.config.archive) {
    ctx.error(ev, 'cancel', 'service-unavailable', 'this room keeps no archive');
    return;
  }
  const denied = mayRead(room, ev);
  if (denied) {
    ctx.error(ev, 'auth', 'forbidden', denied);
    return;
  }
  const metadata = stanza.getChild('metadata', NS_MAM);
  if (metadata && stanza.attrs.type === 'get') return sendMetadata(room, ev);
  const q = stanza.getChild('query', NS_MAM);
  if (!q) {
    ctx.error(ev, 'modify', 'bad-request', 'expected a MAM query');
    return;
  }
  if (stanza.attrs.type === 'get') {
    ctx.result(ev, xml('query', { xmlns: NS_MAM }, queryForm()));
    return;
  }
  let query: ArchiveQuery;
  let flip: boolean;
  try {
    ({ query, flip } = parseQuery(q, room.ctx.settings().archivePageSize));
  } catch (e) {
    if (e instanceof QueryError) {
      ctx.error(ev, e.condition === 'item-not-found' ? 'cancel' : 'modify', e.condition, e.message);
      return;
    }
    throw e;
  }
  let res;
  try {
    res = await room.ctx.archive.query(room.jid, { ...query, count: true });
  } catch (e) {
    if (e instanceof StorageError && e.code === 'not-found') {
      ctx.error(ev, 'cancel', 'item-not-found', 'no message with that id in this archive');
      return;
    }
    throw e;
  }
  const queryid = q.attrs.queryid;
  const viewer = room.bySession.get(ev.from.full);
  const showJids = room.seesJids(viewer, ev.from);
  const messages = flip ? [...res.messages].reverse() : res.messages;
  for (const m of messages) {
    const fwd = m.stanza.clone();
    delete fwd.attrs.to;
    fwd.attrs.xmlns = 'jabber:client';
    // §8.4: nothing the sender put in muc#user survives; the room adds its own when allowed.
    fwd.removeChildren('x', NS_MUC_USER);
    if (showJids && m.sender) fwd.append(xml('x', { xmlns: NS_MUC_USER }, xml('item', { jid: m.sender })));
    room.send(
      xml(
        'message',
        { from: room.jid, to: ev.from.full, id: `mam-${m.id}` },
        xml('result', { xmlns: NS_MAM, queryid, id: m.id }, xml('forwarded', { xmlns: NS_FORWARD }, xml('delay', { xmlns: NS_DELAY, stamp: stamp(m.when) }), fwd)),
      ),
    );
  }
  const set = xml('set', { xmlns: NS_RSM });
  if (res.messages.length > 0) {
    set.c('first', { index: undefined }).t(res.messages[0]!.id);
    set.c('last').t(res.messages[res.messages.length - 1]!.id);
  }
  if (res.result.count !== undefined) set.c('count').t(String(res.result.count));
  ctx.result(ev, xml('fin', { xmlns: NS_MAM, complete: res.result.complete ? 'true' : undefined }, set));
}

function queryForm(): Element {
  return buildForm({
    type: 'form',
    fields: [
      { var: 'FORM_TYPE', type: 'hidden', values: [NS_MAM] },
      { var: 'with', type: 'jid-single', values: [] },
      { var: 'start', type: 'text-single', values: [] },
      { var: 'end', type: 'text-single', values: [] },
      { var: 'before-id', type: 'text-single', values: [] },
      { var: 'after-id', type: 'text-single', values: [] },
      { var: 'ids', type: 'list-multi', values: [] },
      { var: FULLTEXT, type: 'text-single', label: 'Search the text of messages', values: [] },
    ],
  });
}

function parseQuery(q: Element, pageSize: number): { query: ArchiveQuery; flip: boolean } {
  const query: ArchiveQuery = {};
  const x = q.getChild('x', 'jabber:x:data');
  if (x) {
    const form = parseForm(x);
    if (!form) throw new QueryError('bad-request', 'bad data form');
    const ft = formType(form);
    if (ft !== undefined && ft !== NS_MAM) throw new QueryError('bad-request', `expected FORM_TYPE ${NS_MAM}`);
    const v = formValues(form);
    for (const k of v.keys()) if (!KNOWN.has(k)) throw new QueryError('feature-not-implemented', `unknown query field '${k.slice(0, 60)}'`);
    const one = (k: string) => {
      const val = v.get(k)?.[0]?.trim();
      return val === undefined || val === '' ? undefined : val;
    };
    const w = one('with');
    if (w !== undefined) query.with = w;
    for (const k of ['start', 'end'] as const) {
      const s = one(k);
      if (s === undefined) continue;
      const t = parseDateTime(s);
      if (t === undefined) throw new QueryError('bad-request', `${k} must be a date and time such as 2024-01-31T09:00:00Z`);
      query[k] = t;
    }
    const after = one('after-id');
    if (after !== undefined) query.after = after;
    const before = one('before-id');
    if (before !== undefined) query.before = before;
    const ids = v.get('ids')?.filter((s) => s.trim() !== '');
    if (ids && ids.length > 0) query.ids = ids;
    const text = one(FULLTEXT);
    if (text !== undefined) query.text = text;
  }
  const set = q.getChild('set', NS_RSM);
  let max = pageSize;
  if (set) {
    const m = set.getChildText('max');
    if (m !== undefined) {
      if (!/^\d{1,9}$/.test(m.trim())) throw new QueryError('bad-request', 'RSM max must be a whole number');
      max = Math.min(pageSize, Number(m.trim()));
    }
    const a = set.getChild('after');
    if (a) {
      const t = a.text().trim();
      if (t === '') throw new QueryError('bad-request', 'RSM after needs an id');
      query.after = t;
    }
    const b = set.getChild('before');
    if (b) {
      const t = b.text().trim();
      if (t !== '') query.before = t;
      // RSM: <before/> (empty or not) takes the page from the newest end.
      query.reverse = true;
    }
    if (set.getChild('index')) throw new QueryError('feature-not-implemented', 'RSM index is not supported; page with after/before');
  }
  query.limit = max;
  return { query, flip: q.getChild('flip-page') !== undefined };
}

async function sendMetadata(room: Room, ev: StanzaEvent): Promise<void> {
  const [first, last] = await Promise.all([room.ctx.archive.query(room.jid, { limit: 1 }), room.ctx.archive.query(room.jid, { limit: 1, reverse: true })]);
  const md = xml('metadata', { xmlns: NS_MAM });
  const f = first.messages[0];
  const l = last.messages[0];
  if (f && l) {
    md.c('start', { id: f.id, timestamp: stamp(f.when) });
    md.c('end', { id: l.id, timestamp: stamp(l.when) });
  }
  room.ctx.result(ev, md);
}
