// XEP-0060: Publish-Subscribe (the subset PEP serves) and XEP-0163: Personal Eventing Protocol
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
// https://xmpp.org/extensions/xep-0163.html — Version 1.2.2 (2022-03-08)
//
// Namespaces, features and the typed node configuration shared by the PEP module and the modules
// built on it (bookmarks, avatars, push).

export const NS_PUBSUB = 'http://jabber.org/protocol/pubsub';
export const NS_PUBSUB_EVENT = 'http://jabber.org/protocol/pubsub#event';
export const NS_PUBSUB_OWNER = 'http://jabber.org/protocol/pubsub#owner';
export const NS_PUBSUB_ERRORS = 'http://jabber.org/protocol/pubsub#errors';
export const NS_PUBSUB_NODE_CONFIG = 'http://jabber.org/protocol/pubsub#node_config';
export const NS_PUBSUB_PUBLISH_OPTIONS = 'http://jabber.org/protocol/pubsub#publish-options';
export const NS_PUBSUB_META_DATA = 'http://jabber.org/protocol/pubsub#meta-data';
export const NS_PUBSUB_SUBSCRIBE_OPTIONS = 'http://jabber.org/protocol/pubsub#subscribe_options';

/** The pubsub#... features a PEP account advertises (XEP-0060 §10 registry names). */
export const PEP_FEATURES = [
  'access-open',
  'access-presence',
  'access-roster',
  'access-whitelist',
  'auto-create',
  'auto-subscribe',
  'config-node',
  'config-node-max',
  'create-and-configure',
  'create-nodes',
  'delete-items',
  'delete-nodes',
  'filtered-notifications',
  'item-ids',
  'last-published',
  'member-affiliation',
  'modify-affiliations',
  'multi-items',
  'outcast-affiliation',
  'persistent-items',
  'presence-notifications',
  'publish',
  'publish-options',
  'publisher-affiliation',
  'purge-nodes',
  'retract-items',
  'retrieve-affiliations',
  'retrieve-default',
  'retrieve-items',
  'retrieve-subscriptions',
  'subscribe',
].map((f) => `${NS_PUBSUB}#${f}`);

export type AccessModel = 'open' | 'presence' | 'roster' | 'whitelist';
export type PublishModel = 'publishers' | 'subscribers' | 'open';
export type SendLastPublished = 'never' | 'on_sub' | 'on_sub_and_presence';
export type NotificationType = 'headline' | 'normal';
export type Affiliation = 'owner' | 'publisher' | 'member' | 'none' | 'outcast';

/** A node's configuration, in canonical form (what is stored and compared). */
export interface NodeConfig {
  title: string;
  description: string;
  /** Payload namespace (pubsub#type); empty when unset. */
  type: string;
  /** A number of items, or 'max' (the server's limit, XEP-0060 §7.1.5 config-node-max). */
  maxItems: number | 'max';
  persistItems: boolean;
  accessModel: AccessModel;
  rosterGroupsAllowed: string[];
  publishModel: PublishModel;
  sendLastPublishedItem: SendLastPublished;
  deliverNotifications: boolean;
  deliverPayloads: boolean;
  notifyRetract: boolean;
  notifyDelete: boolean;
  notifyConfig: boolean;
  notificationType: NotificationType;
}

/** XEP-0163 §5 defaults: presence access, one persistent item, last item sent on presence. */
export const PEP_DEFAULT_CONFIG: Readonly<NodeConfig> = Object.freeze({
  title: '',
  description: '',
  type: '',
  maxItems: 1,
  persistItems: true,
  accessModel: 'presence',
  rosterGroupsAllowed: [],
  publishModel: 'publishers',
  sendLastPublishedItem: 'on_sub_and_presence',
  deliverNotifications: true,
  deliverPayloads: true,
  notifyRetract: true,
  notifyDelete: true,
  notifyConfig: false,
  notificationType: 'headline',
});
