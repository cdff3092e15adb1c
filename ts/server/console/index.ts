/**
 * The web console: static files (./public, plus uPlot from its npm package) under
 * `/console`. They hold no data and load without the token; the page's API calls send the
 * token it asks for (kept in sessionStorage). Everything is read once at start and served
 * from memory with a strict Content-Security-Policy (scripts and styles of this origin only).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { notFound } from '../errors';

interface Asset {
  type: string;
  body: Buffer;
}

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The files of the console by their name under `/console/`. */
function assets(): Map<string, Asset> {
  const pub = path.join(__dirname, 'public');
  const read = (file: string, type: string): Asset => ({ type, body: fs.readFileSync(file) });
  return new Map([
    ['index.html', read(path.join(pub, 'index.html'), 'text/html; charset=utf-8')],
    ['console.js', read(path.join(pub, 'console.js'), 'text/javascript; charset=utf-8')],
    ['console.css', read(path.join(pub, 'console.css'), 'text/css; charset=utf-8')],
    ['uPlot.js', read(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['uPlot.css', read(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}

/** Adds `GET /console` (the page) and `GET /console/{file}`; left out of /openapi.json. */
export function registerConsole(app: FastifyInstance): void {
  const files = assets();
  const handler = (name: (p: unknown) => string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const file = name(req.params);
    const a = files.get(file);
    if (a === undefined) throw notFound('STRATA_NOT_FOUND', `no console file ${JSON.stringify(file)}`);
    return reply
      .type(a.type)
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('cache-control', 'no-cache')
      .send(a.body);
  };
  const page = handler(() => 'index.html');
  app.get('/console', { schema: { hide: true } }, page);
  app.get('/console/', { schema: { hide: true } }, page);
  app.get('/console/:file', { schema: { hide: true } }, handler((p) => (p as { file: string }).file));
}
