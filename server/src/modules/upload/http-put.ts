// The HTTP PUT that fills a slot (XEP-0363 §6): the slot's Authorization header, a
// Content-Length equal to the slot's size, a matching Content-Type when the slot named one,
// before the slot expires, once. The body streams to a temporary file in the uploads
// directory, is synced, and only then renamed to its final name and marked uploaded: an abort,
// a timeout, a full disk or a crash leaves no partial file anyone could download.
import { open, rename, rm } from 'node:fs/promises';
import type http from 'node:http';
import type { Logger } from '../../util/log.js';
import { essence } from './media-type.js';
import type { FileRecord, FileStore } from './store.js';
import { checkAuthorization } from './token.js';

export interface PutContext {
  store: FileStore;
  secret: Buffer;
  /** Slot ids with an upload under way (a second PUT meanwhile is a conflict). */
  uploading: Set<string>;
  /** Temporary files being written (the stale-file sweep leaves them alone). */
  writing: Set<string>;
  idleTimeoutMs: number;
  log: Logger;
}

class UploadTimeout extends Error {}

/** A short plain-text answer. An early refusal closes the connection: the body is not wanted. */
export function answer(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = text + '\n';
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

const refuse = (res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}) =>
  answer(res, status, text, { connection: 'close', ...headers });

export async function handlePut(req: http.IncomingMessage, res: http.ServerResponse, id: string, rec: FileRecord, ctx: PutContext): Promise<void> {
  if (rec.uploaded !== undefined || ctx.uploading.has(id)) return refuse(res, 409, 'this slot has already been used; request a new one');
  if (!checkAuthorization(ctx.secret, { id, size: rec.size, type: rec.type, expires: rec.expires }, req.headers.authorization))
    return refuse(res, 401, "missing or wrong Authorization: send the header that came with the slot", { 'www-authenticate': 'Bearer' });
  if (Date.now() > rec.expires) return refuse(res, 410, 'this slot has expired; request a new one');
  const lengthHeader = req.headers['content-length'];
  if (lengthHeader === undefined || !/^\d+$/.test(lengthHeader)) return refuse(res, 411, 'Content-Length is required');
  const length = Number(lengthHeader);
  if (length > rec.size) return refuse(res, 413, `the slot is for ${rec.size} bytes, the request has ${length}`);
  if (length !== rec.size) return refuse(res, 400, `the slot is for ${rec.size} bytes, the request has ${length}`);
  const type = req.headers['content-type'];
  if (rec.type !== '' && type !== undefined && essence(type) !== essence(rec.type))
    return refuse(res, 415, `the slot is for ${essence(rec.type)}, the request is ${essence(type)}`);

  ctx.uploading.add(id);
  const tmp = ctx.store.tempPath(id);
  ctx.writing.add(tmp);
  try {
    await receive(req, tmp, rec.size, ctx.idleTimeoutMs);
    // The account may have been deleted, or the slot purged, while the bytes arrived.
    const still = await ctx.store.get(id);
    if (!still || still.uploaded !== undefined) {
      await rm(tmp, { force: true });
      return refuse(res, 410, 'this slot was withdrawn during the upload');
    }
    await rename(tmp, ctx.store.path(id));
    try {
      await ctx.store.markUploaded(id, still, Date.now());
    } catch (e) {
      await rm(ctx.store.path(id), { force: true });
      throw e;
    }
    ctx.log.info('file uploaded', { id, owner: rec.owner, size: rec.size });
    answer(res, 201, 'created');
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      ctx.log.error('upload refused: the disk is full', { id, owner: rec.owner, size: rec.size });
      return refuse(res, 507, 'the server has no room for this file');
    }
    if (e instanceof UploadTimeout) {
      ctx.log.info('upload aborted: nothing received for too long', { id, owner: rec.owner });
      return refuse(res, 408, 'the upload stalled');
    }
    if (code === 'ECONNRESET') {
      ctx.log.info('upload aborted by the client', { id, owner: rec.owner });
      return refuse(res, 400, 'the upload was incomplete');
    }
    throw e;
  } finally {
    ctx.writing.delete(tmp);
    ctx.uploading.delete(id);
  }
}

/**
 * Streams the body to `tmp` and syncs it; rejects unless exactly `size` bytes arrived. On a
 * write error or a stall the request is not destroyed (that would close the connection before
 * the client hears why): the rest of the body is read and dropped while the answer goes out.
 */
async function receive(req: http.IncomingMessage, tmp: string, size: number, idleMs: number): Promise<void> {
  const fh = await open(tmp, 'wx', 0o640);
  // The handle stays open after the stream ends, to sync it before the rename; the stream holds
  // a reference on it until destroyed (close() would wait for that forever).
  const out = fh.createWriteStream({ autoClose: false });
  let closed = false;
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        req.unpipe(out);
        req.resume();
        reject(e);
      };
      out.on('error', fail);
      out.once('finish', () => {
        if (settled) return;
        settled = true;
        resolve();
      });
      req.on('error', fail);
      req.once('close', () => {
        if (!req.complete) fail(Object.assign(new Error('the client went away'), { code: 'ECONNRESET' }));
      });
      req.setTimeout(idleMs, () => fail(new UploadTimeout('idle')));
      req.pipe(out);
    });
    const st = await fh.stat();
    if (st.size !== size) throw Object.assign(new Error(`received ${st.size} of ${size} bytes`), { code: 'ECONNRESET' });
    await fh.sync();
    out.destroy();
    await fh.close();
    closed = true;
  } finally {
    req.setTimeout(0);
    if (!closed) {
      out.destroy();
      await fh.close().catch(() => {});
    }
  }
}
