// What an invitation with an inviter does to rosters: XEP-0379 (Pre-Authenticated Roster
// Subscription, https://xmpp.org/extensions/xep-0379.html, v0.3.3) §3 and XEP-0401
// (https://xmpp.org/extensions/xep-0401.html, v0.5.0) §5.3.2 "the server will ensure that after
// the registration, Romeo is added to her roster with a full presence subscription".
// Subscription states follow RFC 6121 §3 (https://www.rfc-editor.org/rfc/rfc6121).
import { blankItem, type RosterItem, type RosterStore } from '../im/roster-store.js';
import { hasFrom, hasTo } from '../im/subscription.js';

/**
 * A new account and its local inviter become contacts with subscription 'both' on each side,
 * written straight into both rosters (the new account cannot be asked: it has no session yet).
 * Interested sessions of the inviter get the roster push.
 */
export async function mutualSubscription(roster: RosterStore, host: string, a: string, b: string): Promise<void> {
  for (const [user, contact] of [
    [a, `${b}@${host}`],
    [b, `${a}@${host}`],
  ] as const) {
    await roster.lock(user, async () => {
      const prev = (await roster.get(user, contact)) ?? blankItem(contact);
      const item: RosterItem = { ...prev, subscription: 'both', ask: false, pendingIn: false, approved: false, hidden: false };
      delete item.request;
      await roster.put(user, contact, item);
    });
  }
}

/**
 * XEP-0379 §3.5 done by the inviter's server: the inviter pre-approves the contact (RFC 6121
 * §3.4), so the presence module turns the incoming request into a subscription without asking,
 * and asks the contact back (Pending Out) unless the inviter already sees the contact.
 * Returns whether a subscription request back to the contact must be sent.
 */
export async function preApproveContact(roster: RosterStore, inviter: string, contact: string): Promise<{ alreadyFrom: boolean; askBack: boolean }> {
  return roster.lock(inviter, async () => {
    const prev = (await roster.get(inviter, contact)) ?? { ...blankItem(contact), hidden: true };
    if (hasFrom(prev.subscription)) return { alreadyFrom: true, askBack: false };
    const askBack = !hasTo(prev.subscription) && !prev.ask;
    const item: RosterItem = { ...prev, approved: true, hidden: false, ask: prev.ask || askBack };
    await roster.put(inviter, contact, item);
    return { alreadyFrom: false, askBack };
  });
}
