// Smoke run of the benchmark's server section (bench/run.js, STRATA_BENCH_SECTIONS=server) for
// a second per route, so the section cannot rot: every route answers only 2xx. Speed is not
// asserted here (that is what `npm run bench` reports). Uses dist/ (built by `npm ci`).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { tmpPath } from './helpers';

test('bench smoke: the server section loads every route with no failed request', async (t) => {
  t.timeout(120_000);
  const out = tmpPath('bench-results');
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  Object.assign(env, {
    STRATA_BENCH_SECTIONS: 'server',
    STRATA_BENCH_SERVER_SECONDS: '1',
    STRATA_BENCH_SERVER_CONNECTIONS: '4',
    STRATA_BENCH_SERVER_N: '500',
    STRATA_BENCH_OUT: out,
    STRATA_BENCH_DIR: tmpPath('bench-data'),
  });
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'bench', 'run.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (c) => {
      if (c !== 0) t.log(err);
      resolve(c);
    });
  });
  t.is(code, 0);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'server-latest.json'), 'utf8')) as {
    routes: { route: string; requests: number; non2xx: number; errors: number }[];
  };
  t.deepEqual(report.routes.map((r) => r.route), ['GET /empty (bare fastify)', 'POST /empty (bare fastify)', 'GET /health (StrataDB app, no db)', 'GET /db/app/keys/{key}', 'POST /keys', 'POST /db/log/keys (raw, no index)']);
  for (const r of report.routes) {
    t.true(r.requests > 0, r.route);
    t.is(r.non2xx, 0, r.route);
    t.is(r.errors, 0, r.route);
  }
  t.regex(fs.readFileSync(path.join(out, 'server-latest.md'), 'utf8'), /\| route \| requests\/s \| vs empty route/);
});
