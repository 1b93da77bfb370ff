// XEP-0060: Publish-Subscribe — error conditions (§6-§8 error cases, §16.4 pubsub#errors)
// https://xmpp.org/extensions/xep-0060.html — Version 1.26.0 (2023-09-07)
//
// Pubsub errors carry an application-specific child (<precondition-not-met/>, <closed-node/>...)
// beside the RFC 6120 condition, which ModuleApi.replyError cannot add; they are built and sent
// here, straight down the requesting stream when it is a local client's (as the router does).
import type { ModuleApi, StanzaEvent } from '../../core/module.js';
import { errorReply, type StanzaErrorCondition, type StanzaErrorType } from '../../core/stanza-error.js';
import { xml } from '../../xml/element.js';
import { NS_PUBSUB_ERRORS } from '../../xmpp/xep0060.js';

export class PubsubError extends Error {
  constructor(
    readonly type: StanzaErrorType,
    readonly condition: StanzaErrorCondition,
    /** The pubsub#errors element name, e.g. 'precondition-not-met'. */
    readonly app?: string,
    text?: string,
    /** Extra attributes of the app element (unsupported feature='...'). */
    readonly appAttrs?: Record<string, string>,
  ) {
    super(text ?? app ?? condition);
    this.hasText = text !== undefined;
  }
  readonly hasText: boolean;
}

export const notFound = (text?: string) => new PubsubError('cancel', 'item-not-found', undefined, text);
export const forbidden = (text?: string) => new PubsubError('auth', 'forbidden', undefined, text);
export const badRequest = (app?: string, text?: string) => new PubsubError('modify', 'bad-request', app, text);
export const preconditionNotMet = (text?: string) => new PubsubError('cancel', 'conflict', 'precondition-not-met', text);
export const unsupported = (feature: string, text?: string) =>
  new PubsubError('cancel', 'feature-not-implemented', 'unsupported', text, { feature });

/** Sends `err` as the answer to the iq of `event`. */
export function replyPubsubError(api: ModuleApi, event: StanzaEvent, err: PubsubError): true {
  const reply = errorReply(event.stanza, err.type, err.condition, err.hasText ? err.message : undefined);
  if (err.app) reply.getChild('error')!.append(xml(err.app, { xmlns: NS_PUBSUB_ERRORS, ...err.appAttrs }));
  (event as StanzaEvent & { answered?: boolean }).answered = true;
  const origin = event.origin;
  if (origin.kind === 'c2s' && origin.jid && reply.attrs.to === origin.jid.full) origin.send(reply);
  else if (reply.attrs.to !== undefined) api.route(reply);
  return true;
}
