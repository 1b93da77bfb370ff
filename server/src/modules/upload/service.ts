// The upload component of one host (upload.<host>): disco, slot requests with their checks,
// URLs, retention and account deletion. The HTTP side is in http-routes.ts.
import { join } from 'node:path';
import type { ModuleApi, StanzaEvent } from '../../core/module.js';
import { SlidingWindowLimiter } from '../../core/ratelimit.js';
import type { ServerPorts } from '../../core/server.js';
import { errorReply, iqResult, mayReplyWithError, type StanzaErrorCondition, type StanzaErrorType } from '../../core/stanza-error.js';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from '../../xmpp/xep0030.js';
import { xml, type Element } from '../../xml/element.js';
import { simpleForm } from '../dataforms.js';
import { withLock } from '../im/roster-store.js';
import { filenamePathSegment } from './filename.js';
import { limitsOf, type UploadOptions } from './options.js';
import { fileTooLarge, NS_UPLOAD, parseSlotRequest, retryElement, slotElement, slotError } from './slot-request.js';
import { FILES_STORE, FileStore, quotaRetryAt, SERVICE_STORE, USERS_STORE, type FileRecord } from './store.js';
import { serviceSecret, slotToken } from './token.js';

export const SERVICE_NAME = 'HTTP File Upload';

export class UploadService {
  readonly store: FileStore;
  /** Slot ids whose PUT is being received. */
  readonly uploading = new Set<string>();
  /** The daemon's listening ports, known once it has started (tests listen on port 0). */
  ports?: ServerPorts;
  private readonly limiter: SlidingWindowLimiter;

  private constructor(
    private readonly api: ModuleApi,
    readonly domain: string,
    readonly secret: Buffer,
    readonly options: UploadOptions,
  ) {
    this.store = new FileStore(api.keyval(FILES_STORE), api.keyval(USERS_STORE), domain, join(api.config.dataDir, 'uploads'));
    this.limiter = new SlidingWindowLimiter({ limit: options.slotsPerMinute, windowMs: 60_000, maxKeys: 10_000 });
  }

  static async create(api: ModuleApi, domain: string, options: UploadOptions): Promise<UploadService> {
    const svc = new UploadService(api, domain, await serviceSecret(api.keyval(SERVICE_STORE), domain), options);
    await svc.store.ensureDir();
    return svc;
  }

  /**
   * Where clients PUT and GET: upload.publicUrl behind a proxy, else the https listener under the
   * service's own name (the daemon's certificate covers upload.<host>). Undefined when neither
   * exists: the service is then not announced.
   */
  baseUrl(): URL | undefined {
    const { upload, listeners } = this.api.config;
    if (upload.publicUrl !== undefined) return new URL(upload.publicUrl.endsWith('/') ? upload.publicUrl : upload.publicUrl + '/');
    if (!listeners.https.enabled) return undefined;
    const port = this.ports?.https ?? listeners.https.port;
    return new URL(`https://${this.domain}${port === 443 ? '' : `:${port}`}/`);
  }

  // ------------------------------------------------------------------ XMPP

  deliver(ev: StanzaEvent): void | Promise<void> {
    const { stanza } = ev;
    const type = stanza.attrs.type;
    if (stanza.name === 'message') {
      if (type !== 'error' && type !== 'groupchat' && type !== 'headline') this.error(ev, 'cancel', 'service-unavailable', 'this is a file service, not a chat address');
      return;
    }
    if (stanza.name !== 'iq' || (type !== 'get' && type !== 'set')) return;
    if (ev.to.local !== undefined || ev.to.resource !== undefined) return this.error(ev, 'cancel', 'service-unavailable');
    const payload = stanza.firstElement();
    const ns = payload?.attrs.xmlns;
    if (type === 'get' && payload?.name === 'request' && ns === NS_UPLOAD) return this.slotRequest(ev, payload);
    if (payload?.name === 'request' && ns === NS_UPLOAD) return this.error(ev, 'modify', 'bad-request', 'ask for a slot with an iq of type get');
    if (type === 'get' && payload?.name === 'query' && ns === NS_DISCO_INFO) return this.discoInfo(ev, payload);
    if (type === 'get' && payload?.name === 'query' && ns === NS_DISCO_ITEMS) {
      if (payload.attrs.node) return this.error(ev, 'cancel', 'item-not-found');
      return this.send(iqResult(stanza, xml('query', { xmlns: NS_DISCO_ITEMS })));
    }
    if (type === 'get' && ns === 'urn:xmpp:ping') return this.send(iqResult(stanza));
    this.error(ev, 'cancel', 'service-unavailable');
  }

  /** XEP-0363 §3: identity store/file, the feature and the XEP-0128 max-file-size. */
  private discoInfo(ev: StanzaEvent, query: Element): void {
    if (query.attrs.node) return this.error(ev, 'cancel', 'item-not-found');
    const q = xml('query', { xmlns: NS_DISCO_INFO });
    q.c('identity', { category: 'store', type: 'file', name: SERVICE_NAME });
    for (const f of [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_UPLOAD, 'urn:xmpp:ping']) q.c('feature', { var: f });
    q.append(simpleForm(NS_UPLOAD, { 'max-file-size': String(limitsOf(this.api.config).maxFileSize) }));
    this.send(iqResult(ev.stanza, q));
  }

  private async slotRequest(ev: StanzaEvent, request: Element): Promise<void> {
    const { stanza, from } = ev;
    const refuse = (type: StanzaErrorType, cond: StanzaErrorCondition, text: string, extra?: Element) => this.send(slotError(stanza, request, type, cond, text, extra));
    // Only this host's own accounts may store files here (as Prosody's default).
    if (from.local === undefined || from.domain !== this.api.host || !(await this.api.userExists(from.local)))
      return refuse('auth', 'forbidden', `only accounts of ${this.api.host} may share files here`);
    const parsed = parseSlotRequest(request);
    if (!parsed.ok) return refuse('modify', 'bad-request', parsed.text);
    const { filename, size, type } = parsed.request;
    const limits = limitsOf(this.api.config);
    if (size > limits.maxFileSize)
      return refuse('modify', 'not-acceptable', `File too large. The maximum file size is ${limits.maxFileSize} bytes`, fileTooLarge(limits.maxFileSize));
    const base = this.baseUrl();
    if (!base) return refuse('cancel', 'service-unavailable', 'file sharing has no web address (listeners.https is off and upload.publicUrl is empty)');
    const owner = from.bare;
    const rate = this.limiter.attempt(owner);
    if (!rate.allowed)
      return refuse('wait', 'resource-constraint', `Too many requests: at most ${this.options.slotsPerMinute} files a minute`, retryElement(Date.now() + rate.retryAfter * 1000));

    await withLock(`upload:${owner}`, async () => {
      const now = Date.now();
      const quota = await this.store.quota(owner, now);
      if (quota.used + size > limits.dailyQuota) {
        const at = quotaRetryAt(quota, size, limits.dailyQuota, now);
        this.api.log.info('upload slot refused: daily quota', { owner, size, used: quota.used, quota: limits.dailyQuota });
        return refuse('wait', 'resource-constraint', `Quota reached: ${limits.dailyQuota} bytes a day, ${quota.used} used in the last 24 hours`, retryElement(at));
      }
      const id = FileStore.newId();
      const rec: FileRecord = { owner, name: filename, size, type, created: now, expires: now + this.options.slotTimeout * 1000 };
      await this.store.grant(id, rec);
      const url = new URL(`upload/${id}/${filenamePathSegment(filename)}`, base).toString();
      const token = slotToken(this.secret, { id, size, type, expires: rec.expires });
      this.api.log.info('upload slot granted', { owner, id, size, type: type || undefined });
      this.send(iqResult(stanza, slotElement(url, url, `Bearer ${token}`)));
    });
  }

  private error(ev: StanzaEvent, type: StanzaErrorType, condition: StanzaErrorCondition, text?: string): void {
    if (!mayReplyWithError(ev.stanza)) return;
    this.send(errorReply(ev.stanza, type, condition, text));
  }

  private send(stanza: Element): void {
    const r = this.api.route(stanza);
    if (r) r.catch(() => {});
  }

  // ------------------------------------------------------------------ housekeeping

  /** Files past the retention and slots that expired unused; returns what was removed. */
  async purge(now = Date.now()): Promise<{ files: number; slots: number }> {
    const r = await this.store.purge(now, limitsOf(this.api.config).retentionMs, this.uploading, this.options.slotTimeout * 1000);
    if (r.files > 0 || r.slots > 0) this.api.log.info('upload retention', { service: this.domain, files: r.files, unusedSlots: r.slots });
    return r;
  }

  /** Temporary files nobody writes any more (an upload stalled past its idle timeout is dead). */
  cleanTemporary(writing: ReadonlySet<string>, now = Date.now()): Promise<number> {
    return this.store.cleanTemporary(writing, this.options.idleTimeout * 1000 + 60_000, now);
  }

  async accountDeleted(username: string): Promise<void> {
    const owner = `${username}@${this.api.host}`;
    const n = await withLock(`upload:${owner}`, () => this.store.removeOwner(owner));
    if (n > 0) this.api.log.info('account deleted: its shared files removed', { owner, files: n });
  }
}
