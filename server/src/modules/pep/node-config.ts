// XEP-0060: Publish-Subscribe — §8.2 node configuration, §7.1.5 publishing options,
// §16.4.4 pubsub#node_config FORM_TYPE
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
//
// The node configuration form fields PEP supports, read from a submitted form (configure,
// create-and-configure, publish-options) and written back as a form. Stored configurations are
// canonical NodeConfig objects, so a precondition is a field-by-field comparison of canonical
// values ("1" and "true" are the same boolean, 'max' is 'max').
import type { Element } from '../../xml/element.js';
import { buildForm, formType, parseBoolean, parseForm, type FormField } from '../dataforms.js';
import {
  NS_PUBSUB_NODE_CONFIG,
  NS_PUBSUB_PUBLISH_OPTIONS,
  type AccessModel,
  type NodeConfig,
  type NotificationType,
  type PublishModel,
  type SendLastPublished,
} from '../../xmpp/xep0060.js';

export class ConfigProblem extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const ACCESS: readonly AccessModel[] = ['open', 'presence', 'roster', 'whitelist'];
const PUBLISH: readonly PublishModel[] = ['publishers', 'subscribers', 'open'];
const SEND_LAST: readonly SendLastPublished[] = ['never', 'on_sub', 'on_sub_and_presence'];
const NOTIFICATION: readonly NotificationType[] = ['headline', 'normal'];

type Key = keyof NodeConfig;

/** Form field var → config key, with how its values are read. */
interface FieldSpec {
  key: Key;
  type: FormField['type'];
  label: string;
  read(values: string[], maxItemsLimit: number): NodeConfig[Key];
  write(v: NodeConfig[Key]): string[];
  options?: readonly string[];
}

const single = (values: string[], name: string): string => {
  if (values.length > 1) throw new ConfigProblem(`${name} takes one value`, name);
  return values[0] ?? '';
};
const bool = (name: string) => (values: string[]) => {
  const b = parseBoolean(single(values, name).trim());
  if (b === undefined) throw new ConfigProblem(`${name} must be true or false`, name);
  return b;
};
const oneOf = <T extends string>(name: string, allowed: readonly T[]) => (values: string[]) => {
  const v = single(values, name).trim();
  if (!(allowed as readonly string[]).includes(v)) throw new ConfigProblem(`${name} must be one of ${allowed.join(', ')}`, name);
  return v as T;
};
const text = (name: string, max = 1024) => (values: string[]) => {
  const v = single(values, name);
  if (v.length > max) throw new ConfigProblem(`${name} is longer than ${max} characters`, name);
  return v;
};
const boolOut = (v: NodeConfig[Key]) => [v ? '1' : '0'];
const strOut = (v: NodeConfig[Key]) => [String(v)];

export const CONFIG_FIELDS: Record<string, FieldSpec> = {
  'pubsub#title': { key: 'title', type: 'text-single', label: 'A friendly name for the node', read: text('pubsub#title'), write: strOut },
  'pubsub#description': { key: 'description', type: 'text-single', label: 'A description of the node', read: text('pubsub#description'), write: strOut },
  'pubsub#type': { key: 'type', type: 'text-single', label: 'The type of node data, usually its namespace', read: text('pubsub#type'), write: strOut },
  'pubsub#max_items': {
    key: 'maxItems',
    type: 'text-single',
    label: 'Max # of items to persist (a number or max)',
    read(values, limit) {
      const v = single(values, 'pubsub#max_items').trim();
      if (v === 'max') return 'max';
      if (!/^[0-9]{1,9}$/.test(v)) throw new ConfigProblem('pubsub#max_items must be a whole number or max', 'pubsub#max_items');
      const n = Number(v);
      if (n < 1) throw new ConfigProblem('pubsub#max_items must be at least 1', 'pubsub#max_items');
      if (n > limit) throw new ConfigProblem(`pubsub#max_items is above this server's limit of ${limit} (use max)`, 'pubsub#max_items');
      return n;
    },
    write: strOut,
  },
  'pubsub#persist_items': { key: 'persistItems', type: 'boolean', label: 'Persist items to storage', read: bool('pubsub#persist_items'), write: boolOut },
  'pubsub#access_model': {
    key: 'accessModel',
    type: 'list-single',
    label: 'Who may subscribe and retrieve items',
    read: oneOf('pubsub#access_model', ACCESS),
    write: strOut,
    options: ACCESS,
  },
  'pubsub#roster_groups_allowed': {
    key: 'rosterGroupsAllowed',
    type: 'list-multi',
    label: 'Roster groups allowed to subscribe (roster access model)',
    read(values) {
      if (values.length > 100) throw new ConfigProblem('pubsub#roster_groups_allowed takes at most 100 groups', 'pubsub#roster_groups_allowed');
      return [...new Set(values)].sort();
    },
    write: (v) => [...(v as string[])],
  },
  'pubsub#publish_model': {
    key: 'publishModel',
    type: 'list-single',
    label: 'Who may publish',
    read: oneOf('pubsub#publish_model', PUBLISH),
    write: strOut,
    options: PUBLISH,
  },
  'pubsub#send_last_published_item': {
    key: 'sendLastPublishedItem',
    type: 'list-single',
    label: 'When to send the last published item',
    read: oneOf('pubsub#send_last_published_item', SEND_LAST),
    write: strOut,
    options: SEND_LAST,
  },
  'pubsub#deliver_notifications': { key: 'deliverNotifications', type: 'boolean', label: 'Deliver event notifications', read: bool('pubsub#deliver_notifications'), write: boolOut },
  'pubsub#deliver_payloads': { key: 'deliverPayloads', type: 'boolean', label: 'Deliver payloads with event notifications', read: bool('pubsub#deliver_payloads'), write: boolOut },
  'pubsub#notify_retract': { key: 'notifyRetract', type: 'boolean', label: 'Notify subscribers when items are removed', read: bool('pubsub#notify_retract'), write: boolOut },
  'pubsub#notify_delete': { key: 'notifyDelete', type: 'boolean', label: 'Notify subscribers when the node is deleted', read: bool('pubsub#notify_delete'), write: boolOut },
  'pubsub#notify_config': { key: 'notifyConfig', type: 'boolean', label: 'Notify subscribers when the configuration changes', read: bool('pubsub#notify_config'), write: boolOut },
  'pubsub#notification_type': {
    key: 'notificationType',
    type: 'list-single',
    label: 'Message type of event notifications',
    read: oneOf('pubsub#notification_type', NOTIFICATION),
    write: strOut,
    options: NOTIFICATION,
  },
};

/**
 * Reads the fields of a node_config or publish-options form. Unknown fields are returned in
 * `unknown`: a configure request ignores them (other servers' options), a precondition cannot.
 */
export function readConfigForm(
  x: Element,
  expectedType: typeof NS_PUBSUB_NODE_CONFIG | typeof NS_PUBSUB_PUBLISH_OPTIONS,
  maxItemsLimit: number,
): { values: Partial<NodeConfig>; unknown: string[] } {
  const form = parseForm(x);
  if (!form) throw new ConfigProblem('not a data form');
  if (form.type !== 'submit' && form.type !== 'form') throw new ConfigProblem(`a ${form.type} form cannot configure a node`);
  const t = formType(form);
  if (t !== undefined && t !== expectedType) throw new ConfigProblem(`FORM_TYPE must be ${expectedType}`);
  const values: Partial<NodeConfig> = {};
  const unknown: string[] = [];
  for (const f of form.fields) {
    if (f.var === undefined || f.var === 'FORM_TYPE') continue;
    const spec = CONFIG_FIELDS[f.var];
    if (!spec) {
      unknown.push(f.var);
      continue;
    }
    (values as Record<string, unknown>)[spec.key] = spec.read(f.values, maxItemsLimit);
  }
  return { values, unknown };
}

/** The configuration as a node_config form (XEP-0060 §8.2.1). */
export function configForm(config: NodeConfig, type: 'form' | 'result' = 'form'): Element {
  const fields: FormField[] = [{ var: 'FORM_TYPE', type: 'hidden', values: [NS_PUBSUB_NODE_CONFIG] }];
  for (const [name, spec] of Object.entries(CONFIG_FIELDS)) {
    const f: FormField = { var: name, type: spec.type, label: spec.label, values: spec.write(config[spec.key]) };
    if (spec.options) f.options = spec.options.map((value) => ({ value }));
    fields.push(f);
  }
  return buildForm({ type, fields });
}

/** Canonical equality of one option, for preconditions. */
export function sameValue(a: NodeConfig[Key], b: NodeConfig[Key]): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

/** Fields of `wanted` that `config` does not match (empty when the precondition holds). */
export function unmetPreconditions(config: NodeConfig, wanted: Partial<NodeConfig>): string[] {
  const out: string[] = [];
  for (const [name, spec] of Object.entries(CONFIG_FIELDS)) {
    if (!(spec.key in wanted)) continue;
    if (!sameValue(config[spec.key], wanted[spec.key] as NodeConfig[Key])) out.push(name);
  }
  return out;
}

/** A stored configuration read back; anything missing or damaged takes the default. */
export function configFromStored(v: unknown, defaults: NodeConfig): NodeConfig {
  const c: NodeConfig = { ...defaults, rosterGroupsAllowed: [...defaults.rosterGroupsAllowed] };
  if (!v || typeof v !== 'object' || Array.isArray(v)) return c;
  const o = v as Record<string, unknown>;
  for (const k of ['title', 'description', 'type'] as const) if (typeof o[k] === 'string') c[k] = o[k] as string;
  if (o.maxItems === 'max' || (typeof o.maxItems === 'number' && Number.isInteger(o.maxItems) && o.maxItems >= 1)) c.maxItems = o.maxItems as number | 'max';
  for (const k of ['persistItems', 'deliverNotifications', 'deliverPayloads', 'notifyRetract', 'notifyDelete', 'notifyConfig'] as const) {
    if (typeof o[k] === 'boolean') c[k] = o[k] as boolean;
  }
  if (ACCESS.includes(o.accessModel as AccessModel)) c.accessModel = o.accessModel as AccessModel;
  if (PUBLISH.includes(o.publishModel as PublishModel)) c.publishModel = o.publishModel as PublishModel;
  if (SEND_LAST.includes(o.sendLastPublishedItem as SendLastPublished)) c.sendLastPublishedItem = o.sendLastPublishedItem as SendLastPublished;
  if (NOTIFICATION.includes(o.notificationType as NotificationType)) c.notificationType = o.notificationType as NotificationType;
  if (Array.isArray(o.rosterGroupsAllowed)) c.rosterGroupsAllowed = o.rosterGroupsAllowed.filter((g): g is string => typeof g === 'string');
  return c;
}

/** How many items a node keeps. */
export function effectiveMaxItems(config: NodeConfig, limit: number): number {
  return config.maxItems === 'max' ? limit : Math.min(config.maxItems, limit);
}
