// XEP-0060: Publish-Subscribe — the wire protocol of the PEP subset: <pubsub/> and
// <pubsub xmlns='...#owner'/> requests to an account's bare JID, parsed into PepService calls
// and answered with the XEP's result and error shapes (§6 entity use cases, §7 publisher use
// cases, §8 owner use cases).
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
import type { ModuleApi, StanzaEvent } from '../../core/module.js';
import { Element, xml } from '../../xml/element.js';
import {
  NS_PUBSUB,
  NS_PUBSUB_NODE_CONFIG,
  NS_PUBSUB_OWNER,
  NS_PUBSUB_PUBLISH_OPTIONS,
  type Affiliation,
} from '../../xmpp/xep0060.js';
import { NS_DATA } from '../dataforms.js';
import { parseStoredXml } from '../im/xml-parse.js';
import { PubsubError, badRequest, forbidden, replyPubsubError, unsupported } from './errors.js';
import { ConfigProblem, configForm, readConfigForm } from './node-config.js';
import type { PepService } from './service.js';

const AFFILIATIONS = new Set<Affiliation>(['owner', 'publisher', 'member', 'none', 'outcast']);

/** The account a request is for: the sender's own (self) or the addressed one (bare). */
export interface Target {
  username: string;
  /** The requester is the account owner. */
  own: boolean;
}

function configValues(x: Element | undefined, ns: typeof NS_PUBSUB_NODE_CONFIG | typeof NS_PUBSUB_PUBLISH_OPTIONS, limit: number, strict: boolean) {
  if (!x) return { values: undefined, unknown: [] as string[] };
  try {
    return readConfigForm(x, ns, limit);
  } catch (e) {
    if (!(e instanceof ConfigProblem)) throw e;
    // A precondition that cannot hold is "not met" (§7.1.5); a bad configure form is not acceptable.
    if (strict && e.field !== undefined) throw new PubsubError('cancel', 'conflict', 'precondition-not-met', e.message);
    if (e.field !== undefined) throw new PubsubError('modify', 'not-acceptable', undefined, e.message);
    throw badRequest(undefined, e.message);
  }
}

export function createProtocol(api: ModuleApi, pep: PepService) {
  const guard = async (event: StanzaEvent, fn: () => Promise<Element | undefined>): Promise<true> => {
    try {
      const payload = await fn();
      return api.replyResult(event, payload);
    } catch (e) {
      if (e instanceof PubsubError) return replyPubsubError(api, event, e);
      throw e;
    }
  };

  /** <pubsub xmlns='http://jabber.org/protocol/pubsub'/> (get and set). */
  const pubsub = (event: StanzaEvent, target: Target) =>
    guard(event, async () => {
      const ps = event.stanza.getChild('pubsub', NS_PUBSUB)!;
      const type = event.stanza.attrs.type;
      const requester = event.from.full;
      const actions = ps.elements().filter((e) => e.name !== 'publish-options' && e.name !== 'configure' && e.name !== 'options');
      const action = actions[0];
      if (!action || actions.length > 1) throw badRequest(undefined, 'one pubsub action per request');
      const node = action.attrs.node;
      const { username, own } = target;
      if (type === 'get') {
        switch (action.name) {
          case 'items': {
            const n = pep.limits.maxNameLength;
            if (node === undefined || node === '' || node.length > n) throw badRequest('nodeid-required');
            const ids = action.getChildren('item').map((i) => i.attrs.id).filter((i): i is string => i !== undefined);
            const maxAttr = action.attrs.max_items;
            let max: number | undefined;
            if (maxAttr !== undefined) {
              if (!/^[0-9]{1,9}$/.test(maxAttr)) throw badRequest(undefined, 'max_items must be a whole number');
              max = Number(maxAttr);
            }
            const { items } = await pep.items(username, node, requester, { ...(ids.length > 0 ? { ids } : {}), ...(max !== undefined ? { max } : {}) });
            const out = xml('items', { node });
            for (const it of items) {
              const item = out.c('item', { id: it.id });
              const p = parsePayload(it.xml);
              if (p) item.append(p);
            }
            return xml('pubsub', { xmlns: NS_PUBSUB }, out);
          }
          case 'subscriptions': {
            const out = xml('subscriptions', { node });
            const bare = event.from.bare;
            for (const n of await pep.nodes(username)) {
              if (node !== undefined && n.name !== node) continue;
              for (const jid of Object.keys(n.subscriptions)) {
                if (jid === bare || jid.startsWith(bare + '/')) out.c('subscription', { node: n.name, jid, subscription: 'subscribed' });
              }
            }
            return xml('pubsub', { xmlns: NS_PUBSUB }, out);
          }
          case 'affiliations': {
            const out = xml('affiliations', { node });
            const bare = event.from.bare;
            for (const n of await pep.nodes(username)) {
              if (node !== undefined && n.name !== node) continue;
              const a = pep.affiliation(username, n, bare);
              if (a !== 'none') out.c('affiliation', { node: n.name, affiliation: a });
            }
            return xml('pubsub', { xmlns: NS_PUBSUB }, out);
          }
          case 'options':
          case 'default':
            throw unsupported('subscription-options');
          default:
            throw unsupported(action.name);
        }
      }
      switch (action.name) {
        case 'publish': {
          const items = action.getChildren('item');
          if (items.length !== 1) throw badRequest('item-required', 'publish exactly one item');
          const payloads = items[0]!.elements();
          if (payloads.length !== 1) throw badRequest(payloads.length === 0 ? 'item-required' : 'invalid-payload', 'an item holds exactly one payload element');
          const payload = payloads[0]!.clone();
          // Keep the namespace explicit: the stored payload is read back on its own.
          if (payload.attrs.xmlns === undefined) payload.attrs.xmlns = NS_PUBSUB;
          const po = ps.getChild('publish-options')?.getChild('x', NS_DATA);
          const { values, unknown } = configValues(po, NS_PUBSUB_PUBLISH_OPTIONS, pep.limits.maxItems, true);
          const req = { publisher: requester, payload, ...(items[0]!.attrs.id !== undefined ? { id: items[0]!.attrs.id } : {}), ...(values ? { options: values } : {}), unknownOptions: unknown };
          const { id } = await pep.publish(username, node ?? '', req);
          return xml('pubsub', { xmlns: NS_PUBSUB }, xml('publish', { node }, xml('item', { id })));
        }
        case 'retract': {
          if (node === undefined) throw badRequest('nodeid-required');
          const ids = action.getChildren('item').map((i) => i.attrs.id).filter((i): i is string => i !== undefined && i !== '');
          if (ids.length === 0) throw badRequest('item-required');
          const n = action.attrs.notify;
          const notify = n === 'true' || n === '1' ? true : n === 'false' || n === '0' ? false : undefined;
          await pep.retract(username, node, requester, ids, notify);
          return undefined;
        }
        case 'create': {
          if (!own) throw forbidden();
          const cfg = ps.getChild('configure')?.getChild('x', NS_DATA);
          const { values } = configValues(cfg, NS_PUBSUB_NODE_CONFIG, pep.limits.maxItems, false);
          const name = await pep.create(username, node, values);
          return node === undefined || node === '' ? xml('pubsub', { xmlns: NS_PUBSUB }, xml('create', { node: name })) : undefined;
        }
        case 'subscribe': {
          if (node === undefined) throw badRequest('nodeid-required');
          const jid = action.attrs.jid;
          if (jid === undefined) throw badRequest('invalid-jid');
          await pep.subscribe(username, node, requester, jid);
          return xml('pubsub', { xmlns: NS_PUBSUB }, xml('subscription', { node, jid, subscription: 'subscribed' }));
        }
        case 'unsubscribe': {
          if (node === undefined) throw badRequest('nodeid-required');
          const jid = action.attrs.jid;
          if (jid === undefined) throw badRequest('invalid-jid');
          await pep.unsubscribe(username, node, requester, jid);
          return undefined;
        }
        case 'options':
          throw unsupported('subscription-options');
        default:
          throw unsupported(action.name);
      }
    });

  /** <pubsub xmlns='...#owner'/>: only the account owner (§8). */
  const owner = (event: StanzaEvent, target: Target) =>
    guard(event, async () => {
      if (!target.own) throw forbidden();
      const { username } = target;
      const ps = event.stanza.getChild('pubsub', NS_PUBSUB_OWNER)!;
      const action = ps.firstElement();
      if (!action) throw badRequest();
      const node = action.attrs.node;
      const type = event.stanza.attrs.type;
      const needNode = (): string => {
        if (node === undefined || node === '') throw badRequest('nodeid-required');
        return node;
      };
      switch (`${type} ${action.name}`) {
        case 'get configure': {
          const n = await pep.node(username, needNode());
          if (!n) throw new PubsubError('cancel', 'item-not-found');
          return xml('pubsub', { xmlns: NS_PUBSUB_OWNER }, xml('configure', { node }, configForm(n.config)));
        }
        case 'set configure': {
          const x = action.getChild('x', NS_DATA);
          if (!x) throw badRequest(undefined, 'a configuration form is required');
          if (x.attrs.type === 'cancel') return undefined;
          const { values } = configValues(x, NS_PUBSUB_NODE_CONFIG, pep.limits.maxItems, false);
          await pep.configure(username, needNode(), values ?? {});
          return undefined;
        }
        case 'get default':
          return xml('pubsub', { xmlns: NS_PUBSUB_OWNER }, xml('default', {}, configForm(pep.defaults())));
        case 'set delete':
          await pep.deleteNode(username, needNode());
          return undefined;
        case 'set purge':
          await pep.purge(username, needNode());
          return undefined;
        case 'get affiliations': {
          const n = await pep.node(username, needNode());
          if (!n) throw new PubsubError('cancel', 'item-not-found');
          const out = xml('affiliations', { node });
          out.c('affiliation', { jid: pep.owner(username), affiliation: 'owner' });
          for (const [jid, a] of Object.entries(n.affiliations)) out.c('affiliation', { jid, affiliation: a });
          return xml('pubsub', { xmlns: NS_PUBSUB_OWNER }, out);
        }
        case 'set affiliations': {
          const changes: { jid: string; affiliation: Affiliation }[] = [];
          for (const a of action.getChildren('affiliation')) {
            const jid = a.attrs.jid;
            const aff = a.attrs.affiliation as Affiliation | undefined;
            if (!jid || !aff || !AFFILIATIONS.has(aff)) throw badRequest(undefined, 'each affiliation needs a jid and a known affiliation');
            const bare = jid.split('/')[0]!;
            changes.push({ jid: bare, affiliation: aff });
          }
          await pep.setAffiliations(username, needNode(), changes);
          return undefined;
        }
        case 'get subscriptions': {
          const n = await pep.node(username, needNode());
          if (!n) throw new PubsubError('cancel', 'item-not-found');
          const out = xml('subscriptions', { node });
          for (const jid of Object.keys(n.subscriptions)) out.c('subscription', { jid, subscription: 'subscribed' });
          return xml('pubsub', { xmlns: NS_PUBSUB_OWNER }, out);
        }
        default:
          throw unsupported(action.name);
      }
    });

  return { pubsub, owner };
}

function parsePayload(text: string): Element | undefined {
  return parseStoredXml(text);
}
