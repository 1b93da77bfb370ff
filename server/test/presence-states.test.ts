// RFC 6121 Appendix A (Subscription States): the state machine alone, table by table.
// https://www.rfc-editor.org/rfc/rfc6121#appendix-A
import { describe, expect, it } from 'vitest';
import {
  inbound,
  outbound,
  stateName,
  type SubState,
  type SubscriptionType,
} from '../src/modules/im/subscription.js';

const states: Record<string, SubState> = {
  None: { subscription: 'none', ask: false, pendingIn: false, approved: false },
  'None + Pending Out': { subscription: 'none', ask: true, pendingIn: false, approved: false },
  'None + Pending In': { subscription: 'none', ask: false, pendingIn: true, approved: false },
  'None + Pending Out/In': { subscription: 'none', ask: true, pendingIn: true, approved: false },
  To: { subscription: 'to', ask: false, pendingIn: false, approved: false },
  'To + Pending In': { subscription: 'to', ask: false, pendingIn: true, approved: false },
  From: { subscription: 'from', ask: false, pendingIn: false, approved: false },
  'From + Pending Out': { subscription: 'from', ask: true, pendingIn: false, approved: false },
  Both: { subscription: 'both', ask: false, pendingIn: false, approved: false },
};

function st(name: string): SubState {
  const s = states[name];
  if (!s) throw new Error('no state ' + name);
  return { ...s };
}

// [from state, to state, delivered?] per RFC 6121 A.3 (inbound) — "no change" rows keep the state.
const inboundTable: Record<SubscriptionType, [string, string, boolean][]> = {
  // A.3.1 (states with 'from' are auto-replied and not delivered)
  subscribe: [
    ['None', 'None + Pending In', true],
    ['None + Pending Out', 'None + Pending Out/In', true],
    ['To', 'To + Pending In', true],
    ['From', 'From', false],
    ['From + Pending Out', 'From + Pending Out', false],
    ['Both', 'Both', false],
  ],
  // A.3.2
  subscribed: [
    ['None', 'None', false],
    ['None + Pending Out', 'To', true],
    ['None + Pending In', 'None + Pending In', false],
    ['None + Pending Out/In', 'To + Pending In', true],
    ['To', 'To', false],
    ['To + Pending In', 'To + Pending In', false],
    ['From', 'From', false],
    ['From + Pending Out', 'Both', true],
    ['Both', 'Both', false],
  ],
  // A.3.3
  unsubscribe: [
    ['None', 'None', false],
    ['None + Pending Out', 'None + Pending Out', false],
    ['None + Pending In', 'None', true],
    ['None + Pending Out/In', 'None + Pending Out', true],
    ['To', 'To', false],
    ['To + Pending In', 'To', true],
    ['From', 'None', true],
    ['From + Pending Out', 'None + Pending Out', true],
    ['Both', 'To', true],
  ],
  // A.3.4
  unsubscribed: [
    ['None', 'None', false],
    ['None + Pending Out', 'None', true],
    ['None + Pending In', 'None + Pending In', false],
    ['None + Pending Out/In', 'None + Pending In', true],
    ['To', 'None', true],
    ['To + Pending In', 'None + Pending In', true],
    ['From', 'From', false],
    ['From + Pending Out', 'From', true],
    ['Both', 'From', true],
  ],
};

// [from state, to state, routed?] per RFC 6121 A.2 (outbound).
const outboundTable: Record<SubscriptionType, [string, string, boolean][]> = {
  // A.2.1
  subscribe: [
    ['None', 'None + Pending Out', true],
    ['None + Pending Out', 'None + Pending Out', true],
    ['None + Pending In', 'None + Pending Out/In', true],
    ['To', 'To', true],
    ['To + Pending In', 'To + Pending In', true],
    ['From', 'From + Pending Out', true],
    ['Both', 'Both', true],
  ],
  // A.2.2
  unsubscribe: [
    ['None', 'None', true],
    ['None + Pending Out', 'None', true],
    ['None + Pending In', 'None + Pending In', true],
    ['None + Pending Out/In', 'None + Pending In', true],
    ['To', 'None', true],
    ['To + Pending In', 'None + Pending In', true],
    ['From', 'From', true],
    ['From + Pending Out', 'From', true],
    ['Both', 'From', true],
  ],
  // A.2.3 (pending-in states; the rest is §3.4 pre-approval, tested below)
  subscribed: [
    ['None + Pending In', 'From', true],
    ['None + Pending Out/In', 'From + Pending Out', true],
    ['To + Pending In', 'Both', true],
    ['From', 'From', false],
    ['Both', 'Both', false],
  ],
  // A.2.4
  unsubscribed: [
    ['None', 'None', true],
    ['None + Pending Out', 'None + Pending Out', true],
    ['None + Pending In', 'None', true],
    ['None + Pending Out/In', 'None + Pending Out', true],
    ['To', 'To', true],
    ['To + Pending In', 'To', true],
    ['From', 'None', true],
    ['From + Pending Out', 'None + Pending Out', true],
    ['Both', 'To', true],
  ],
};

describe('inbound subscription stanzas (RFC 6121 A.3)', () => {
  for (const [type, rows] of Object.entries(inboundTable) as [SubscriptionType, [string, string, boolean][]][]) {
    for (const [from, to, deliver] of rows) {
      it(`${type}: ${from} → ${to}${deliver ? ' (delivered)' : ''}`, () => {
        const r = inbound(st(from), type);
        expect(stateName(r.state)).toBe(to);
        expect(r.deliver).toBe(deliver);
        expect(r.changed).toBe(from !== to);
      });
    }
  }

  it('subscribe when the contact is already subscribed is auto-answered', () => {
    expect(inbound(st('From'), 'subscribe').autoReply).toBe('subscribed');
    expect(inbound(st('Both'), 'subscribe').autoReply).toBe('subscribed');
    expect(inbound(st('None'), 'subscribe').autoReply).toBeUndefined();
  });

  it('a repeated request is delivered again without a state change', () => {
    const r = inbound(st('None + Pending In'), 'subscribe');
    expect(r.changed).toBe(false);
    expect(r.deliver).toBe(true);
  });
});

describe('outbound subscription stanzas (RFC 6121 A.2)', () => {
  for (const [type, rows] of Object.entries(outboundTable) as [SubscriptionType, [string, string, boolean][]][]) {
    for (const [from, to, route] of rows) {
      it(`${type}: ${from} → ${to}${route ? ' (routed)' : ''}`, () => {
        const r = outbound(st(from), type);
        expect(stateName(r.state)).toBe(to);
        expect(r.route).toBe(route);
      });
    }
  }

  it('approving gives the contact our presence; cancelling takes it away', () => {
    expect(outbound(st('None + Pending In'), 'subscribed').fromGained).toBe(true);
    expect(outbound(st('Both'), 'unsubscribed').fromLost).toBe(true);
    expect(inbound(st('From'), 'unsubscribe').fromLost).toBe(true);
  });
});

describe('pre-approval (RFC 6121 §3.4)', () => {
  it('subscribed without a pending request pre-approves and is not routed', () => {
    for (const name of ['None', 'None + Pending Out', 'To']) {
      const r = outbound(st(name), 'subscribed');
      expect(r.route).toBe(false);
      expect(r.state.approved).toBe(true);
      expect(r.changed).toBe(true);
    }
  });

  it('a pre-approved request is accepted automatically and not delivered', () => {
    const pre = outbound(st('None + Pending Out'), 'subscribed').state;
    const r = inbound(pre, 'subscribe');
    expect(stateName(r.state)).toBe('From + Pending Out');
    expect(r.state.approved).toBe(false);
    expect(r.autoReply).toBe('subscribed');
    expect(r.deliver).toBe(false);
    expect(r.fromGained).toBe(true);
    const fromTo = inbound({ ...st('To'), approved: true }, 'subscribe');
    expect(stateName(fromTo.state)).toBe('Both');
  });

  it('unsubscribed withdraws a pre-approval', () => {
    const r = outbound({ ...st('None'), approved: true }, 'unsubscribed');
    expect(r.state.approved).toBe(false);
    expect(r.changed).toBe(true);
  });
});
