// Smoke run of the benchmark's server section (bench/run.js, STRATA_BENCH_SECTIONS=server) for
// a second per route, so the section cannot rot: every route answers only 2xx. Speed is not
// asserted here (that is what `npm run bench` reports). Uses dist/ (built by `npm ci`).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { tmpPath } from './helpers';

/** Runs a script of bench/ with `env`; its exit code and output. */
function runBench(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(__dirname, '..', 'bench', script)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

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
  const { code, stderr } = await runBench('run.js', env);
  if (code !== 0) t.log(stderr);
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
  // The server process ran with the young generation the README recommends, and says so.
  const config = (JSON.parse(fs.readFileSync(path.join(out, 'server-latest.json'), 'utf8')) as { config: { serverNodeFlags: string[] } }).config;
  t.deepEqual(config.serverNodeFlags, ['--max-semi-space-size=32']);
  t.regex(fs.readFileSync(path.join(out, 'server-latest.md'), 'utf8'), /server process flags: `--max-semi-space-size=32`/);
});

test.serial('bench: SERVER_NODE_FLAGS sets the server process flags; `none` is Node\'s defaults', (t) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS bench module
  const { serverFlags } = require('../bench/server-bench.js') as { serverFlags: () => string[] };
  const saved = process.env.STRATA_BENCH_SERVER_NODE_FLAGS;
  try {
    delete process.env.STRATA_BENCH_SERVER_NODE_FLAGS;
    t.deepEqual(serverFlags(), ['--max-semi-space-size=32']);
    process.env.STRATA_BENCH_SERVER_NODE_FLAGS = 'none';
    t.deepEqual(serverFlags(), []);
    process.env.STRATA_BENCH_SERVER_NODE_FLAGS = ' --max-semi-space-size=64   --max-old-space-size=512 ';
    t.deepEqual(serverFlags(), ['--max-semi-space-size=64', '--max-old-space-size=512']);
  } finally {
    if (saved === undefined) delete process.env.STRATA_BENCH_SERVER_NODE_FLAGS;
    else process.env.STRATA_BENCH_SERVER_NODE_FLAGS = saved;
  }
});

test('bench: server-overhead.js measures every fastify variant', async (t) => {
  t.timeout(120_000);
  if (process.platform !== 'linux') return t.pass();
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  Object.assign(env, { STRATA_BENCH_OVERHEAD_SECONDS: '1', STRATA_BENCH_OVERHEAD_ROUNDS: '1', STRATA_BENCH_SERVER_CONNECTIONS: '4' });
  const { code, stdout, stderr } = await runBench('server-overhead.js', env);
  if (code !== 0) t.log(stderr);
  t.is(code, 0);
  for (const name of ['bare', 'pino logger (warn)', 'StrataDB request logging', 'onResponse hook', 'response schema']) {
    t.regex(stdout, new RegExp(`^  ${name.replace(/[()]/g, '\\$&')} +[0-9.]+ µs`, 'm'), name);
  }
});
