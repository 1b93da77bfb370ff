// XEP-0363 §4-§5 on the wire: reading a <request/>, building the <slot/> and the error replies
// (the XEP's <file-too-large/> and <retry/> extensions of the stanza error).
import { errorElement, type StanzaErrorCondition, type StanzaErrorType } from '../../core/stanza-error.js';
import { Element, xml } from '../../xml/element.js';
import { sanitizeFilename } from './filename.js';
import { parseMediaType } from './media-type.js';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';

export interface SlotRequest {
  filename: string;
  size: number;
  /** Normalised content type, '' when the request had none. */
  type: string;
}

export type ParsedRequest = { ok: true; request: SlotRequest } | { ok: false; text: string };

/** Sizes beyond this are nonsense (and beyond exact integers). */
const MAX_SIZE_DIGITS = 15;

export function parseSlotRequest(el: Element): ParsedRequest {
  const name = sanitizeFilename(el.attrs.filename);
  if (!name.ok) return { ok: false, text: name.reason };
  const sizeAttr = el.attrs.size;
  if (sizeAttr === undefined) return { ok: false, text: "the request has no 'size'" };
  if (!/^\d+$/.test(sizeAttr) || sizeAttr.length > MAX_SIZE_DIGITS) return { ok: false, text: `size '${sizeAttr.slice(0, 32)}' is not a number of bytes` };
  let type = '';
  const typeAttr = el.attrs['content-type'];
  if (typeAttr !== undefined && typeAttr.trim() !== '') {
    const t = parseMediaType(typeAttr);
    if (t === undefined) return { ok: false, text: `content-type '${typeAttr.slice(0, 64)}' is not a media type (type/subtype)` };
    type = t;
  }
  return { ok: true, request: { filename: name.name, size: Number(sizeAttr), type } };
}

/** §4: the PUT URL with its Authorization header, and the GET URL. */
export function slotElement(putUrl: string, getUrl: string, authorization: string): Element {
  return xml(
    'slot',
    { xmlns: NS_UPLOAD },
    xml('put', { url: putUrl }, xml('header', { name: 'Authorization' }, authorization)),
    xml('get', { url: getUrl }),
  );
}

/** The error reply to a slot request, echoing the request as the XEP's examples do. */
export function slotError(
  iq: Element,
  request: Element,
  type: StanzaErrorType,
  condition: StanzaErrorCondition,
  text: string,
  extra?: Element,
): Element {
  const error = errorElement(type, condition, text);
  if (extra) error.append(extra);
  return xml('iq', { type: 'error', id: iq.attrs.id, from: iq.attrs.to, to: iq.attrs.from }, request.clone(), error);
}

/** §5: <file-too-large><max-file-size>N</max-file-size></file-too-large>. */
export function fileTooLarge(max: number): Element {
  return xml('file-too-large', { xmlns: NS_UPLOAD }, xml('max-file-size', {}, String(max)));
}

/** §5: <retry stamp='…'/>, a XEP-0082 UTC date-time (whole seconds, rounded up). */
export function retryElement(at: number): Element {
  return xml('retry', { xmlns: NS_UPLOAD, stamp: xep0082(at) });
}

export function xep0082(ms: number): string {
  return new Date(Math.ceil(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
