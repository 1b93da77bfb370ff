// RFC 6121: XMPP Instant Messaging and Presence — presence subscription state machine
// https://www.rfc-editor.org/rfc/rfc6121 (March 2011), §3 and Appendix A ("Subscription States")
//
// Pure functions, no I/O: given the state of one roster item and one subscription stanza, they
// say what the new state is and what the server does with the stanza (route it, deliver it,
// auto-reply). The presence module applies the result to the store and the network.
//
// The nine RFC states are `subscription` (none/to/from/both) plus the two pending flags:
//   None, None+Pending Out (ask), None+Pending In (pendingIn), None+Pending Out/In,
//   To, To+Pending In, From, From+Pending Out, Both.
// `approved` is the §3.4 pre-approval flag (only meaningful while the contact has no 'from').

export type Subscription = 'none' | 'to' | 'from' | 'both';
export type SubscriptionType = 'subscribe' | 'subscribed' | 'unsubscribe' | 'unsubscribed';

export interface SubState {
  subscription: Subscription;
  /** Pending Out: the user asked the contact for a subscription, no answer yet. */
  ask: boolean;
  /** Pending In: the contact asked the user, the user has not answered yet. */
  pendingIn: boolean;
  /** Pre-approved (§3.4): a future request from the contact is approved automatically. */
  approved: boolean;
}

export const EMPTY_STATE: Readonly<SubState> = Object.freeze({
  subscription: 'none',
  ask: false,
  pendingIn: false,
  approved: false,
});

export function isSubscriptionType(t: string | undefined): t is SubscriptionType {
  return t === 'subscribe' || t === 'subscribed' || t === 'unsubscribe' || t === 'unsubscribed';
}

/** The user receives the contact's presence. */
export function hasTo(s: Subscription): boolean {
  return s === 'to' || s === 'both';
}

/** The contact receives the user's presence. */
export function hasFrom(s: Subscription): boolean {
  return s === 'from' || s === 'both';
}

function make(to: boolean, from: boolean): Subscription {
  return to ? (from ? 'both' : 'to') : from ? 'from' : 'none';
}

export function sameState(a: SubState, b: SubState): boolean {
  return a.subscription === b.subscription && a.ask === b.ask && a.pendingIn === b.pendingIn && a.approved === b.approved;
}

/** The RFC's name for a state, for logs and tests ("None + Pending Out/In"). */
export function stateName(s: SubState): string {
  const base = s.subscription === 'none' ? 'None' : s.subscription === 'to' ? 'To' : s.subscription === 'from' ? 'From' : 'Both';
  // Pending Out only exists without 'to', Pending In only without 'from' (Appendix A.1).
  const out = s.ask && !hasTo(s.subscription);
  const inn = s.pendingIn && !hasFrom(s.subscription);
  if (out && inn) return `${base} + Pending Out/In`;
  if (out) return `${base} + Pending Out`;
  if (inn) return `${base} + Pending In`;
  return base;
}

export interface OutboundResult {
  state: SubState;
  changed: boolean;
  /** Whether the stanza goes on to the contact (stamped with the user's bare JID). */
  route: boolean;
  /** The contact gained / lost the right to see the user's presence. */
  fromGained: boolean;
  fromLost: boolean;
}

/**
 * A subscription stanza the user sends to the contact (Appendix A.2, §3.1.2, §3.1.5, §3.2.2,
 * §3.3.2, §3.4).
 */
export function outbound(prev: SubState, type: SubscriptionType): OutboundResult {
  const s: SubState = { ...prev };
  const to = hasTo(prev.subscription);
  const from = hasFrom(prev.subscription);
  let route = true;
  switch (type) {
    case 'subscribe':
      // A.2.1: None/From (+Pending In) gain Pending Out; To/Both have it already. Always routed,
      // so a contact whose server lost the subscription can auto-reply and resynchronise.
      if (!to) s.ask = true;
      break;
    case 'unsubscribe':
      // A.2.2: drop 'to' and Pending Out.
      s.ask = false;
      s.subscription = make(false, from);
      break;
    case 'subscribed':
      if (prev.pendingIn && !from) {
        // A.2.3: approving a pending request.
        s.pendingIn = false;
        s.approved = false;
        s.subscription = make(to, true);
      } else if (from) {
        // Already subscribed: nothing to approve, nothing to tell (§3.1.5).
        route = false;
      } else {
        // §3.4.1: no pending request, so this is a pre-approval; it is never routed.
        s.approved = true;
        route = false;
      }
      break;
    case 'unsubscribed':
      // A.2.4: deny a pending request / cancel the contact's subscription; forget pre-approval.
      s.pendingIn = false;
      s.approved = false;
      s.subscription = make(to, false);
      break;
  }
  normalise(s);
  const nowFrom = hasFrom(s.subscription);
  return {
    state: s,
    changed: !sameState(prev, s),
    route,
    fromGained: !from && nowFrom,
    fromLost: from && !nowFrom,
  };
}

export interface InboundResult {
  state: SubState;
  changed: boolean;
  /** Deliver the stanza to the user's available resources (A.3 "deliver" column). */
  deliver: boolean;
  /** Answer the contact on the user's behalf (§3.1.3: already subscribed or pre-approved). */
  autoReply?: 'subscribed';
  fromGained: boolean;
  fromLost: boolean;
}

/**
 * A subscription stanza the contact sends to the user (Appendix A.3, §3.1.3, §3.1.6, §3.2.3,
 * §3.3.3, §3.4.2).
 */
export function inbound(prev: SubState, type: SubscriptionType): InboundResult {
  const s: SubState = { ...prev };
  const to = hasTo(prev.subscription);
  const from = hasFrom(prev.subscription);
  let deliver = false;
  let autoReply: 'subscribed' | undefined;
  switch (type) {
    case 'subscribe':
      if (from) {
        // §3.1.3: the contact already has a subscription; confirm it again, do not bother the user.
        autoReply = 'subscribed';
      } else if (prev.approved) {
        // §3.4.2: pre-approved; becomes From (or Both) without asking the user.
        s.approved = false;
        s.pendingIn = false;
        s.subscription = make(to, true);
        autoReply = 'subscribed';
      } else {
        // A.3.1: None/To (+Pending Out) gain Pending In; the request goes to the user (again, if
        // it was already pending, so a client that missed it sees it).
        s.pendingIn = true;
        deliver = true;
      }
      break;
    case 'subscribed':
      // A.3.2: only an answer to our own pending request counts; anything else is ignored.
      if (prev.ask && !to) {
        s.ask = false;
        s.subscription = make(true, from);
        deliver = true;
      }
      break;
    case 'unsubscribe':
      // A.3.3: the contact no longer wants the user's presence (or withdraws its request). A
      // pre-approval is the user's own decision and stays.
      s.pendingIn = false;
      s.subscription = make(to, false);
      deliver = !sameState(prev, normalised(s));
      break;
    case 'unsubscribed':
      // A.3.4: the contact denies our request or cancels our subscription.
      s.ask = false;
      s.subscription = make(false, from);
      deliver = !sameState(prev, normalised(s));
      break;
  }
  normalise(s);
  const nowFrom = hasFrom(s.subscription);
  const r: InboundResult = {
    state: s,
    changed: !sameState(prev, s),
    deliver,
    fromGained: !from && nowFrom,
    fromLost: from && !nowFrom,
  };
  if (autoReply) r.autoReply = autoReply;
  return r;
}

/** Pending flags that cannot coexist with the subscription they wait for are cleared. */
function normalise(s: SubState): void {
  if (hasTo(s.subscription)) s.ask = false;
  if (hasFrom(s.subscription)) {
    s.pendingIn = false;
    s.approved = false;
  }
}

function normalised(s: SubState): SubState {
  const c = { ...s };
  normalise(c);
  return c;
}
