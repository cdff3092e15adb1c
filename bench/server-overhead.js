#!/usr/bin/env node
'use strict';
// What fastify's own features cost per request, apart from StrataDB: one route
// (`GET /k/:key` answering a small object) in bare fastify apps that differ by one feature
// each — a pino logger, the server's request logging (ts/server/logging.ts), empty
// onRequest / onResponse / onRequestAbort hooks, params and response schemas — all in one
// child process, each under autocannon in turn (ROUNDS rounds, interleaved). Per app: the
// child's main-thread CPU time per request (Linux schedstat: time on a core, so far less
// sensitive to the machine's load than requests/s) and requests/s.
//   node bench/server-overhead.js           (dist/ must be built: npm run build:ts)
// Settings (STRATA_BENCH_ prefix optional): OVERHEAD_SECONDS (3), OVERHEAD_ROUNDS (3),
// SERVER_CONNECTIONS (100), SERVER_NODE_FLAGS (as bench/server-bench.js).

const { fork } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { median, num, run, serverFlags } = require('./server-bench');

const reply = async (req) => ({ key: req.params.key, value: { n: 1 } });
const paramsSchema = { type: 'object', required: ['key'], properties: { key: { type: 'string', minLength: 1 } } };
const responseSchema = { 200: { type: 'object', required: ['key', 'value'], properties: { key: { type: 'string' }, value: {} } } };

/** The apps, each one feature over the bare one. */
function apps() {
  const Fastify = require('fastify');
  const L = require(path.join(__dirname, '..', 'dist', 'server', 'logging'));
  const route = (app, opts = {}) => {
    app.get('/k/:key', opts, reply);
    return app;
  };
  const hook = (name, fn) => {
    const app = Fastify({ logger: false });
    app.addHook(name, fn);
    return route(app);
  };
  return {
    bare: () => route(Fastify({ logger: false })),
    'pino logger (warn)': () => route(Fastify({ logger: { level: 'warn' } })),
    'logger, child = parent': () => route(Fastify({ logger: { level: 'warn' }, childLoggerFactory: (l) => l })),
    'StrataDB request logging': () =>
      route(Fastify({ logger: { level: 'warn' }, requestIdHeader: 'x-request-id', genReqId: L.requestIds(), childLoggerFactory: L.requestLogger, logController: new L.OneLineLogController() })),
    'onRequest hook': () => hook('onRequest', (_req, _reply, done) => done()),
    'onResponse hook': () => hook('onResponse', (_req, _reply, done) => done()),
    'onRequestAbort hook': () => hook('onRequestAbort', (_req, done) => done()),
    'params schema': () => route(Fastify({ logger: false }), { schema: { params: paramsSchema } }),
    'response schema': () => route(Fastify({ logger: false }), { schema: { response: responseSchema } }),
  };
}

async function child() {
  const urls = {};
  for (const [name, make] of Object.entries(apps())) {
    const app = make();
    await app.listen({ host: '127.0.0.1', port: 0 });
    urls[name] = `http://127.0.0.1:${app.server.address().port}`;
  }
  process.send(urls);
}

async function main() {
  const seconds = num('OVERHEAD_SECONDS', 3);
  const rounds = Math.floor(num('OVERHEAD_ROUNDS', 3));
  const connections = Math.floor(num('SERVER_CONNECTIONS', 100));
  const c = fork(__filename, ['--child'], { execArgv: serverFlags(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const mainUs = () => Number(fs.readFileSync(`/proc/${c.pid}/task/${c.pid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
  const urls = await new Promise((resolve) => c.once('message', resolve));
  const acc = new Map(Object.keys(urls).map((k) => [k, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [name, url] of Object.entries(urls)) {
        const m0 = mainUs();
        const r = await run({ url: `${url}/k/user:${round}`, connections, duration: seconds });
        acc.get(name).push({ us: (mainUs() - m0) / r.requests.total, rate: r.requests.average });
      }
    }
  } finally {
    c.kill('SIGTERM');
  }
  const base = median(acc.get('bare').map((x) => x.us));
  process.stdout.write(`fastify per-request costs (main-thread CPU µs per request, median of ${rounds} rounds; server flags: ${serverFlags().join(' ') || "Node's defaults"})\n`);
  for (const [name, xs] of acc) {
    const us = median(xs.map((x) => x.us));
    const d = name === 'bare' ? '' : ` (${us - base >= 0 ? '+' : ''}${(us - base).toFixed(2)})`;
    process.stdout.write(`  ${name.padEnd(26)} ${us.toFixed(2).padStart(6)} µs${d.padEnd(9)}  ${Math.round(median(xs.map((x) => x.rate))).toLocaleString('en-US').padStart(7)} req/s\n`);
  }
}

if (process.argv[2] === '--child') child();
else if (process.platform !== 'linux') process.stderr.write('server-overhead: needs Linux (/proc/<pid>/task/<tid>/schedstat)\n');
else main().catch((e) => {
  process.stderr.write(`server-overhead: ${e.stack ?? e}\n`);
  process.exit(1);
});
