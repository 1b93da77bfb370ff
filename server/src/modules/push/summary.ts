// XEP-0357: Push Notifications — §6 what is published: the notification payload with an
// urn:xmpp:push:summary form, and which stanzas deserve waking a phone for.
// https://xmpp.org/extensions/xep-0357.html — Version 0.4.1 (2020-02-11)
import { Element, xml } from '../../xml/element.js';
import { NS_PUSH, NS_PUSH_SUMMARY, type PushRegistration, type PushSummary } from '../../xmpp/xep0357.js';
import { NS_PUBSUB, NS_PUBSUB_PUBLISH_OPTIONS } from '../../xmpp/xep0060.js';
import { buildForm, type FormField } from '../dataforms.js';

const ENCRYPTED = new Set(['eu.siacs.conversations.axolotl', 'urn:xmpp:omemo:2', 'urn:xmpp:openpgp:0', 'jabber:x:encrypted']);
const NS_JINGLE_MESSAGE = 'urn:xmpp:jingle-message:0';

/**
 * A message the user would want to be woken for: something to read (a body, an encrypted
 * payload) or a call (XEP-0353 propose). Chat states, receipts, markers and errors are not.
 */
export function isPushWorthy(stanza: Element): boolean {
  if (stanza.name !== 'message') return false;
  const type = stanza.attrs.type;
  if (type === 'error' || type === 'headline') return false;
  if (stanza.getChild('body') !== undefined) return true;
  for (const el of stanza.elements()) {
    if (el.attrs.xmlns !== undefined && ENCRYPTED.has(el.attrs.xmlns)) return true;
    if (el.name === 'propose' && el.attrs.xmlns === NS_JINGLE_MESSAGE) return true;
  }
  return false;
}

/** The pubsub publish iq to one app server (§6, with the publish-options given at enable). */
export function pushIq(from: string, reg: PushRegistration, summary: PushSummary): Element {
  const fields: FormField[] = [
    { var: 'FORM_TYPE', type: 'hidden', values: [NS_PUSH_SUMMARY] },
    { var: 'message-count', values: [String(summary.count)] },
  ];
  if (summary.sender !== undefined) fields.push({ var: 'last-message-sender', values: [summary.sender] });
  if (summary.body !== undefined) fields.push({ var: 'last-message-body', values: [summary.body] });
  const pubsub = xml(
    'pubsub',
    { xmlns: NS_PUBSUB },
    xml('publish', { node: reg.node }, xml('item', {}, xml('notification', { xmlns: NS_PUSH }, buildForm({ type: 'submit', fields })))),
  );
  if (reg.options.length > 0) {
    const opts: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [NS_PUBSUB_PUBLISH_OPTIONS] }];
    for (const [v, values] of reg.options) opts.push({ var: v, values });
    pubsub.append(xml('publish-options', {}, buildForm({ type: 'submit', fields: opts })));
  }
  return xml('iq', { type: 'set', from, to: reg.jid }, pubsub);
}
