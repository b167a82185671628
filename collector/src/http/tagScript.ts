import type { RequestHandler } from 'express';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/**
 * `GET /t.js`: the built tag, compressed once at start-up (brotli or gzip by Accept-Encoding),
 * with an ETag and an hour of caching so a new release reaches pages within the hour.
 */
export function tagScript(path: string): RequestHandler {
  if (!existsSync(path)) {
    return (_req, res) => {
      res.status(503).type('text/plain').send('tag not built: run `npm run build`');
    };
  }
  const raw = readFileSync(path);
  const gzip = gzipSync(raw, { level: 9 });
  const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  const etag = `"${createHash('sha256').update(raw).digest('base64url').slice(0, 22)}"`;
  return (req, res) => {
    res.set({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'public, max-age=3600, stale-while-revalidate=86400',
      ETag: etag,
      Vary: 'Accept-Encoding',
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.get('if-none-match') === etag) {
      res.status(304).end();
      return;
    }
    const accepts = req.get('accept-encoding') ?? '';
    if (/\bbr\b/.test(accepts)) res.set('Content-Encoding', 'br').send(br);
    else if (/\bgzip\b/.test(accepts)) res.set('Content-Encoding', 'gzip').send(gzip);
    else res.send(raw);
  };
}
