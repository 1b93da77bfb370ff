// XEP-0313: Message Archive Management
// https://xmpp.org/extensions/xep-0313.html
// Version 1.1.3 (2025-04-09)
// XEP-0441: Message Archive Management Preferences
// https://xmpp.org/extensions/xep-0441.html
// Version 0.2.0 (2020-11-09)
//
// Namespaces, the query form the server offers (§4.1.5) and typed views of what a client
// asks: the query (form fields, RSM, flip-page), preferences.
import { buildForm, type FormField } from '../modules/dataforms.js';
import type { Element } from '../xml/element.js';

export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_MAM_EXTENDED = 'urn:xmpp:mam:2#extended';
/** We understand include-groupchat (and never keep groupchat in a user archive). */
export const NS_MAM_GROUPCHAT_FIELD = 'urn:xmpp:mam:2#groupchat-field';
/** ejabberd's full-text field, and the Clark-notation one Prosody uses; both mean the same here. */
export const FIELD_WITHTEXT = 'withtext';
export const FIELD_FULLTEXT = '{urn:xmpp:fulltext:0}fulltext';

export type ArchivePolicy = 'always' | 'never' | 'roster';

/** XEP-0441 preferences: the default and the two JID lists (bare JIDs). */
export interface MamPrefs {
  default: ArchivePolicy;
  always: string[];
  never: string[];
}

/** A parsed archive query. */
export interface MamQuery {
  queryId?: string;
  with?: string;
  start?: number;
  end?: number;
  beforeId?: string;
  afterId?: string;
  ids?: string[];
  text?: string;
  includeGroupchat?: boolean;
  /** RSM */
  max?: number;
  after?: string;
  /** '' = the last page. */
  before?: string;
  flip: boolean;
}

/** The form a client gets with an iq-get <query/> (§4.1.5). */
export function queryForm(): Element {
  const fields: FormField[] = [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS_MAM] },
    { var: 'with', type: 'jid-single', values: [] },
    { var: 'start', type: 'text-single', values: [] },
    { var: 'end', type: 'text-single', values: [] },
    { var: 'before-id', type: 'text-single', values: [] },
    { var: 'after-id', type: 'text-single', values: [] },
    { var: 'ids', type: 'list-multi', values: [] },
    { var: 'include-groupchat', type: 'boolean', values: [] },
    { var: FIELD_WITHTEXT, type: 'text-single', label: 'Messages containing this text', values: [] },
    { var: FIELD_FULLTEXT, type: 'text-single', label: 'Messages containing this text', values: [] },
  ];
  const form = buildForm({ type: 'form', fields });
  // §4.1.5: the ids list is open (XEP-0122), its values are never listed.
  const ids = form.getChildren('field').find((f) => f.attrs.var === 'ids')!;
  ids.c('validate', { xmlns: 'http://jabber.org/protocol/xdata-validate', datatype: 'xs:string' }).c('open');
  return form;
}
