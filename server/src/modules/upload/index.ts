// XEP-0363: HTTP File Upload — https://xmpp.org/extensions/xep-0363.html
// Version 1.2.0 (2025-06-17), namespace urn:xmpp:http:upload:0, with XEP-0128 (max-file-size in
// disco#info) and XEP-0082 (the <retry/> stamp). Shaped like Prosody's mod_http_file_share.
//
// A component at <upload.subdomain>.<host>, listed in the host's disco#items. Accounts of this
// host ask it for a slot; it checks the size (upload.maxFileSize), the account's rolling 24-hour
// quota (upload.dailyQuota), a request rate (modules.upload.slotsPerMinute) and the file name,
// and answers with one URL for PUT and GET on the https listener,
//   https://upload.<host>:<listeners.https.port>/upload/<128-bit id>/<file name>
// (or upload.publicUrl behind a proxy), plus an Authorization header whose HMAC binds the slot's
// id, size, type and expiry (modules.upload.slotTimeout). Files are kept upload.retentionDays
// and removed with their account. Settings: options.ts. Storage: store.ts. HTTP: http-*.ts.
//
// Hooks used: server-started (the real https port; stale temporary files), account-deleted.
import { defineModule } from '../../core/module.js';
import type { ServerPorts } from '../../core/server.js';
import { HTTP_PREFIX, uploadHttpHandler } from './http-routes.js';
import { limitsOf, parseUploadOptions } from './options.js';
import { SERVICE_NAME, UploadService } from './service.js';

/** Running services by domain (tests and benchmarks reach a service through this). */
export const uploadServices = new Map<string, UploadService>();

/** Temporary files being written by this process, across hosts (they share the directory). */
const writing = new Set<string>();

export default defineModule({
  name: 'upload',
  spec: 'XEP-0363: HTTP File Upload',
  async load(api) {
    const cfg = api.config.upload;
    if (!cfg.enabled) return;
    const options = parseUploadOptions(api.options);
    const domain = `${cfg.subdomain}.${api.host}`;
    const service = await UploadService.create(api, domain, options);
    api.component(domain, (ev) => service.deliver(ev));
    if (service.baseUrl()) api.disco.addItem({ jid: domain, name: SERVICE_NAME });
    else api.log.warn('file sharing is not announced: listeners.https is off and upload.publicUrl is empty', { service: domain });
    uploadServices.set(domain, service);
    api.onUnload(() => {
      if (uploadServices.get(domain) === service) uploadServices.delete(domain);
    });

    api.http(
      HTTP_PREFIX,
      uploadHttpHandler({
        store: service.store,
        secret: service.secret,
        uploading: service.uploading,
        writing,
        idleTimeoutMs: options.idleTimeout * 1000,
        log: api.log,
        retentionMs: () => limitsOf(api.config).retentionMs,
      }),
    );

    api.hook<{ ports?: ServerPorts }>('server-started', async ({ ports }) => {
      if (ports) service.ports = ports;
      const n = await service.cleanTemporary(writing).catch(() => 0);
      if (n > 0) api.log.info('removed unfinished uploads left by an earlier run', { files: n });
    });
    api.hook<{ username: string }>('account-deleted', async ({ username }) => {
      await service.accountDeleted(username).catch((e) => api.log.error('removing the files of a deleted account failed', { username, error: String(e) }));
    });
    api.every(options.purgeInterval * 1000, async () => {
      await service.purge();
      await service.cleanTemporary(writing);
    });
  },
});
