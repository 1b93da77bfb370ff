// TLS for every listener: the certificate (configured paths, or `auto`: a self-signed ECDSA
// certificate made on first start for each domain and its service subdomains), SNI, live
// reload (SIGHUP, ACME renewal). Channel bindings are in sasl/channel-binding.ts.
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';
import type { RoostConfig } from '../config/types.js';
import type { Logger } from '../util/log.js';
import { createEcdsaSelfSigned } from '../../../appliance/src/acme/ecdsa-cert.js';
import { writeFileAtomic } from '../../../appliance/src/system/files.js';
import { tlsServerEndPoint } from './sasl/channel-binding.js';

/** Service subdomains every served domain gets a certificate name for. */
export const CERT_SUBDOMAINS = ['conference', 'pubsub', 'upload'];

export function certificateNamesFor(hosts: string[]): string[] {
  const names: string[] = [];
  for (const h of hosts) {
    names.push(h);
    // A bare IP literal or a single label like `localhost` still gets the subdomains: clients
    // resolve conference.localhost to loopback.
    for (const sub of CERT_SUBDOMAINS) names.push(`${sub}.${h}`);
  }
  return [...new Set(names)];
}

export interface CertificateInfo {
  /** RFC 5929 tls-server-end-point data of this certificate (undefined when RFC 5929 defines none). */
  endPoint?: Buffer;
  certPath: string;
  keyPath: string;
  names: string[];
  notAfter: Date;
  selfSigned: boolean;
}

export class TlsManager {
  private ctx!: tls.SecureContext;
  private current!: CertificateInfo;
  private pems!: { cert: string; key: string };
  /**
   * Direct-TLS servers: a client that sends no SNI (it connects by IP address) gets the server's
   * own default context, which SNICallback never sees; reload() replaces it with setSecureContext.
   */
  private readonly servers = new Set<tls.Server>();

  private constructor(private readonly log: Logger) {}

  static async create(config: RoostConfig, log: Logger): Promise<TlsManager> {
    const m = new TlsManager(log);
    await m.reload(config);
    return m;
  }

  get info(): CertificateInfo {
    return this.current;
  }

  /** (Re)loads the certificate; on failure the previous one stays in use and the error is thrown. */
  async reload(config: RoostConfig): Promise<void> {
    const { certPath, keyPath, selfSigned } = await this.ensureFiles(config);
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    const ctx = tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    const x509 = new X509Certificate(cert);
    this.ctx = ctx;
    this.pems = { cert, key };
    for (const server of this.servers) server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    this.current = { certPath, keyPath, names: sanNames(x509), notAfter: new Date(x509.validTo), selfSigned, endPoint: tlsServerEndPoint(x509.raw) };
    this.log.info('certificate loaded', { path: certPath, names: this.current.names.join(','), notAfter: x509.validTo });
  }

  private async ensureFiles(config: RoostConfig): Promise<{ certPath: string; keyPath: string; selfSigned: boolean }> {
    if (config.tls.certificate !== 'auto') {
      return { certPath: config.tls.certificate, keyPath: config.tls.key ?? config.tls.certificate, selfSigned: false };
    }
    const dir = join(config.dataDir, 'tls');
    const certPath = join(dir, 'cert.pem');
    const keyPath = join(dir, 'key.pem');
    const wanted = certificateNamesFor(config.hosts);
    if (existsSync(certPath) && existsSync(keyPath)) {
      try {
        const x509 = new X509Certificate(await readFile(certPath));
        const have = new Set(sanNames(x509));
        const fresh = new Date(x509.validTo).getTime() - Date.now() > 30 * 86_400_000;
        if (fresh && wanted.every((n) => have.has(n))) return { certPath, keyPath, selfSigned: true };
      } catch {
        // Unreadable: made again below.
      }
    }
    this.log.info('generating a self-signed certificate', { names: wanted.join(',') });
    const { certPem, keyPem } = createEcdsaSelfSigned({ names: wanted });
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await writeFileAtomic(keyPath, keyPem, { mode: 0o600 });
    await writeFileAtomic(certPath, certPem, { mode: 0o644 });
    return { certPath, keyPath, selfSigned: true };
  }

  /** The context for a served name (one certificate covers every host for now). */
  context(_servername?: string): tls.SecureContext {
    return this.ctx;
  }

  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void): void => {
    cb(null, this.context(servername));
  };

  /**
   * Options for tls.createServer on a direct-TLS port (XEP-0368 asks for ALPN `xmpp-client`).
   * tls.Server ignores a `secureContext` option: the certificate goes in as PEM for clients
   * without SNI; pass the server to track() so a reload reaches them too.
   */
  serverOptions(alpn?: string[]): tls.TlsOptions {
    return {
      SNICallback: this.sniCallback,
      cert: this.pems.cert,
      key: this.pems.key,
      minVersion: 'TLSv1.2',
      ...(alpn ? { ALPNProtocols: alpn } : {}),
    };
  }

  /** Keeps a direct-TLS server's default certificate current across reloads. */
  track(server: tls.Server): void {
    this.servers.add(server);
    server.once('close', () => this.servers.delete(server));
  }

}

function sanNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  return san
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
}
