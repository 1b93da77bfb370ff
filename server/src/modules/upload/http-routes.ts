// The upload service's HTTP side, mounted at /upload/ on the web listeners: paths are
// /upload/<slot id>/<file name>. Every host mounts its own handler; one that does not know the id
// passes the request on (returns false), so several hosts share the listeners and a proxy in
// front (upload.publicUrl) needs no Host header rewriting. The id alone finds the file: the
// name in the path is for people and is not checked.
import type http from 'node:http';
import type { HttpHandler } from '../../transports/http.js';
import { serveFile } from './http-get.js';
import { answer, handlePut, type PutContext } from './http-put.js';
import { isSlotId } from './store.js';

export const HTTP_PREFIX = '/upload/';

// Web clients (Converse.js, Movim) upload with fetch() from their own origin: the preflight must
// allow PUT with the slot's Authorization header.
const CORS_PREFLIGHT = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, PUT, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '7200',
};

export function uploadHttpHandler(ctx: PutContext & { retentionMs: () => number }): HttpHandler {
  return async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const m = /^\/upload\/([^/]+)\/[^/]*$/.exec(path);
    if (!m || !isSlotId(m[1]!)) return false;
    const id = m[1]!;
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, CORS_PREFLIGHT).end();
      return true;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'PUT') {
      answer(res, 405, 'use GET, HEAD or PUT', { allow: 'GET, HEAD, PUT, OPTIONS', connection: 'close' });
      return true;
    }
    const rec = await ctx.store.get(id);
    if (!rec) return false;
    res.setHeader('access-control-allow-origin', '*');
    if (method === 'PUT') {
      await handlePut(req, res, id, rec, ctx);
      return true;
    }
    if (rec.uploaded === undefined) {
      answer(res, 404, 'no such file');
      return true;
    }
    await serveFile(req, res, id, rec, ctx.store, ctx.retentionMs());
    return true;
  };
}
