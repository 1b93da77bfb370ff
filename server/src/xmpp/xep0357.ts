// XEP-0357: Push Notifications — https://xmpp.org/extensions/xep-0357.html — Version 0.4.1 (2020-02-11)
export const NS_PUSH = 'urn:xmpp:push:0';
export const NS_PUSH_SUMMARY = 'urn:xmpp:push:summary';

/** One app server registration of an account (§5 enable). */
export interface PushRegistration {
  /** The XMPP Push Service (app server) JID. */
  jid: string;
  node: string;
  /** publish-options fields given at enable (e.g. the app server's secret), var → values. */
  options: [string, string[]][];
  /** Resource that enabled it, for logs. */
  resource?: string;
  created: number;
  /** Transient publish errors in a row. */
  errors: number;
}

/** What a notification summarises (the urn:xmpp:push:summary form, §6). */
export interface PushSummary {
  count: number;
  sender?: string;
  body?: string;
}
