// GET and HEAD of a shared file. `send` does the HTTP mechanics (RFC 9110 §14 Range with 206
// and 416, §13 conditional requests with ETag/Last-Modified and 304, HEAD); what is set here is
// what makes serving other people's files safe: the slot's Content-Type, nosniff (global), a
// sandboxing Content-Security-Policy, Content-Disposition attachment for anything but plain
// media, and CORS for web clients.
import type http from 'node:http';
import contentDisposition from 'content-disposition';
import send from 'send';
import { DEFAULT_TYPE, isInlineSafe } from './media-type.js';
import type { FileRecord, FileStore } from './store.js';
import { answer } from './http-put.js';

/** Even when the file is opened as a page, it cannot run anything or reach anything. */
export const FILE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";
const YEAR_S = 365 * 86_400;

export function serveFile(req: http.IncomingMessage, res: http.ServerResponse, id: string, rec: FileRecord, store: FileStore, retentionMs: number): Promise<void> {
  const type = rec.type === '' ? DEFAULT_TYPE : rec.type;
  const inline = isInlineSafe(type);
  res.setHeader('content-type', type);
  res.setHeader('content-disposition', contentDisposition(rec.name, { type: inline ? 'inline' : 'attachment' }));
  res.setHeader('content-security-policy', FILE_CSP);
  res.setHeader('access-control-allow-origin', '*');
  res.setHeader('cross-origin-resource-policy', 'cross-origin');
  // The bytes never change; caches may keep them until the file is deleted.
  const left = retentionMs > 0 ? Math.max(0, Math.floor((rec.uploaded! + retentionMs - Date.now()) / 1000)) : YEAR_S;
  return new Promise<void>((resolve) => {
    const stream = send(req, '/' + id, {
      root: store.dir,
      index: false,
      dotfiles: 'deny',
      maxAge: Math.min(left, YEAR_S) * 1000,
      immutable: true,
    });
    stream.on('error', (err: { status?: number; headers?: Record<string, string> }) => {
      const status = err.status ?? 500;
      const headers = err.headers ?? {};
      for (const h of ['content-type', 'content-disposition', 'cache-control', 'etag', 'last-modified', 'accept-ranges']) res.removeHeader(h);
      if (status === 404) answer(res, 404, 'no such file');
      else if (status === 416) answer(res, 416, 'range not satisfiable', headers);
      else answer(res, status, 'cannot serve this file', headers);
      resolve();
    });
    res.once('close', () => resolve());
    stream.pipe(res);
  });
}
