// Where files derived from the configuration live.
import { join } from 'node:path';
import type { RoostConfig } from './types.js';

/**
 * The certificate and key the TLS listeners use: the configured files, or with
 * `tls.certificate: auto` the self-signed pair generated into <dataDir>/tls/.
 */
export function tlsFiles(config: Pick<RoostConfig, 'dataDir' | 'tls'>): { certificate: string; key: string; generated: boolean } {
  if (config.tls.certificate === 'auto') {
    const dir = join(config.dataDir, 'tls');
    return { certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), generated: true };
  }
  return { certificate: config.tls.certificate, key: config.tls.key ?? '', generated: false };
}
