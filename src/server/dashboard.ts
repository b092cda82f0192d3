// The dashboard: a static single-page app (web/, bundled by `npm run build:web` into web/dist) served
// at / and at each page's path, so a shared URL opens the same view. It reads the API like any
// client; nothing from the data is rendered on the server. Assets have content hashes in their
// names and are cached for good; they are sent pre-compressed (brotli or gzip) when accepted.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

export const WEB_DIST = fileURLToPath(new URL('../../web/dist', import.meta.url));

/** The dashboard's pages; each serves the same shell, which routes on the path. */
export const PAGES = ['/', '/routes', '/database', '/trends', '/alerts', '/optimizations', '/loadtests', '/frontend', '/dashboards/:name'];

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.json': 'application/json', '.map': 'application/json' };

export async function dashboardRoutes(app: FastifyInstance, opts: { dir?: string }): Promise<void> {
  const dir = opts.dir ?? WEB_DIST;
  const read = (f: string) => {
    try {
      return fs.readFileSync(path.join(dir, f));
    } catch {
      return undefined;
    }
  };
  const page = async (_req: FastifyRequest, reply: FastifyReply) => {
    // read per request: a rebuild (npm run build:web) shows without a restart
    const shell = read('index.html');
    reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('cache-control', 'no-cache');
    if (!shell) return reply.status(503).type('text/html; charset=utf-8').send('<!doctype html><title>Dashboard not built</title><p>The dashboard is not built. Run <code>npm run build:web</code> (or <code>npm run build</code>) and reload this page. The API is up: <a href="/api/status">/api/status</a>.</p>');
    return reply.type('text/html; charset=utf-8').send(shell);
  };
  for (const p of PAGES) app.get(p, page);

  app.get('/assets/:file', async (req: FastifyRequest<{ Params: { file: string } }>, reply) => {
    const file = req.params.file;
    const ext = path.extname(file);
    if (!/^[\w.-]+$/.test(file) || !TYPES[ext]) return reply.callNotFound();
    const accept = String(req.headers['accept-encoding'] ?? '');
    const encodings: [string, string][] = [['br', '.br'], ['gzip', '.gz']];
    for (const [enc, suffix] of encodings) {
      if (!accept.includes(enc)) continue;
      const body = read(path.join('assets', file + suffix));
      if (body) return send(reply.header('content-encoding', enc), body, ext);
    }
    const body = read(path.join('assets', file));
    return body ? send(reply, body, ext) : reply.callNotFound();
  });
}

function send(reply: FastifyReply, body: Buffer, ext: string): FastifyReply {
  return reply.type(TYPES[ext]).header('cache-control', 'public, max-age=31536000, immutable').header('vary', 'accept-encoding').header('x-content-type-options', 'nosniff').send(body);
}
