// XEP-0157: Contact Addresses for XMPP Services
// https://xmpp.org/extensions/xep-0157.html
// Version 1.1.1 (2022-02-24)
//
// The server's contact addresses as an XEP-0128 extension of its disco#info: a form of
// FORM_TYPE http://jabber.org/network/serverinfo with list-multi fields of URIs.
import { buildForm, type FormField } from '../modules/dataforms.js';
import type { Element } from '../xml/element.js';

export const FORM_TYPE_SERVERINFO = 'http://jabber.org/network/serverinfo';

export type AddressKind = 'abuse' | 'admin' | 'feedback' | 'sales' | 'security' | 'status' | 'support';

/** The form, with one field per kind that has addresses; undefined when there are none. */
export function serverInfoForm(addresses: Partial<Record<AddressKind, string[]>>): Element | undefined {
  const fields: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [FORM_TYPE_SERVERINFO] }];
  for (const [kind, list] of Object.entries(addresses).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const values = [...new Set(list ?? [])];
    if (values.length > 0) fields.push({ var: `${kind}-addresses`, type: 'list-multi', values });
  }
  return fields.length > 1 ? buildForm({ type: 'result', fields }) : undefined;
}
