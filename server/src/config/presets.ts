// Well-known values the configuration offers by name.

export const LETSENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETSENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

/** Short names accepted for acme.directoryUrl. */
export const ACME_DIRECTORIES: Record<string, string> = {
  letsencrypt: LETSENCRYPT_PRODUCTION,
  'letsencrypt-staging': LETSENCRYPT_STAGING,
};

/**
 * XEP-0357 app servers of the common mobile clients. A phone app cannot keep a connection open
 * in the background, so the server wakes it through the app maker's push service, which is
 * reached over server-to-server XMPP even when federation is off.
 */
export const DEFAULT_PUSH_GATEWAYS: readonly string[] = [
  'p2.siacs.eu', // Conversations (Android), and forks that keep its push service
  'p2.conversations.im', // Conversations' newer push service name
  'eu.prod.push.monal-im.org', // Monal (iOS/macOS), Europe
  'us.prod.push.monal-im.org', // Monal, United States
  'ios13push.monal.im', // Monal, older releases
  'push.tigase.im', // Siskin IM (iOS) and Tigase Messenger
];

/** What `userFilter: auto` and `usernameAttribute: auto` mean once the directory type is known. */
export const LDAP_FLAVOR_DEFAULTS = {
  openldap: { userFilter: '(objectClass=inetOrgPerson)', usernameAttribute: 'uid' },
  ad: { userFilter: '(&(objectClass=user)(objectCategory=person))', usernameAttribute: 'sAMAccountName' },
} as const;
