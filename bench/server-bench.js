'use strict';
// The `server` section of `npm run bench`: autocannon against StrataDB's HTTP server
// (bench/server-target.js) beside an empty fastify route in the same run:
// GET /empty, POST /empty (the bare app parsing POST /keys's body: the peer of the POST routes),
// GET /health (the StrataDB app's hooks without a database call), GET /db/app/keys/{key} (random preloaded keys), POST /keys (new keys, bson
// values with one index), POST /db/log/keys (raw values, no index), each at CONNECTIONS connections for SECONDS seconds.
// Settings (STRATA_BENCH_ prefix optional): SERVER_SECONDS (10), SERVER_CONNECTIONS (100),
// SERVER_N (10000 preloaded keys), SERVER_NODE_FLAGS (the server process's Node flags;
// default --max-semi-space-size=32, `none` for Node's defaults), SERVER_ROUNDS (5): the routes take turns, each round giving
// every route SECONDS / ROUNDS seconds, so a change in the machine's load (other processes)
// falls on every route alike; a route's figures are the medians of its rounds. Writes results/server-<stamp>.{json,md} and server-latest.
// The load generator runs in this process, on the same machine as the server: on few cores the
// two compete, which lowers every figure alike (the ratio to the empty route is the fair one).

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const autocannon = require('autocannon');

const { env } = require('./lib/common');

function num(name, fallback) {
  const raw = env(name, undefined);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`bench: ${name} must be a positive number, got ${raw}`);
  return n;
}

/**
 * The server process's Node flags: SERVER_NODE_FLAGS (space-separated; `none` for Node's
 * defaults), by default the young generation the README recommends for `strata serve` under
 * load (`--max-semi-space-size=32`: a third of the scavenges of Node 20's 16 MiB). The bare
 * fastify app runs in the same process, so it has the same flags.
 */
const DEFAULT_SERVER_FLAGS = '--max-semi-space-size=32';
function serverFlags() {
  const raw = env('SERVER_NODE_FLAGS', DEFAULT_SERVER_FLAGS).trim();
  return raw === 'none' ? [] : raw.split(/\s+/).filter(Boolean);
}

function run(opts) {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, r) => (err ? reject(err) : resolve(r)));
  });
}

function summary(name, r) {
  return {
    route: name,
    requestsPerSec: r.requests.average,
    requests: r.requests.total,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  const m = Math.floor(a.length / 2);
  return a.length % 2 === 1 ? a[m] : (a[m - 1] + a[m]) / 2;
};

/** One route's summary over its rounds: medians of rates and percentiles, sums of counts. */
function merge(name, rounds) {
  return {
    route: name,
    requestsPerSec: median(rounds.map((r) => r.requestsPerSec)),
    requests: rounds.reduce((n, r) => n + r.requests, 0),
    latencyMs: {
      p50: median(rounds.map((r) => r.latencyMs.p50)),
      p90: median(rounds.map((r) => r.latencyMs.p90)),
      p99: median(rounds.map((r) => r.latencyMs.p99)),
      max: Math.max(...rounds.map((r) => r.latencyMs.max)),
    },
    non2xx: rounds.reduce((n, r) => n + r.non2xx, 0),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    timeouts: rounds.reduce((n, r) => n + r.timeouts, 0),
    rounds: rounds.map((r) => ({ requestsPerSec: r.requestsPerSec, p99: r.latencyMs.p99 })),
  };
}

const flagsText = (flags) => (flags === undefined || flags.length === 0 ? "Node's defaults" : flags.map((f) => `\`${f}\``).join(' '));

function renderMarkdown(report) {
  const empty = report.routes.find((x) => x.route === 'GET /empty (bare fastify)');
  const emptyPost = report.routes.find((x) => x.route === 'POST /empty (bare fastify)');
  const pct = (r, base) => (base && base.requestsPerSec > 0 ? `${((100 * r.requestsPerSec) / base.requestsPerSec).toFixed(0)} %` : '-');
  const lines = [
    `### HTTP server (autocannon, ${report.config.connections} connections, ${report.config.seconds} s per route in ${report.config.rounds ?? 1} interleaved rounds; medians of the rounds)`,
    '',
    `${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}; ${report.config.n} keys preloaded; the load generator shares the machine; server process flags: ${flagsText(report.config.serverNodeFlags)}.`,
    '',
    '| route | requests/s | vs empty route | vs empty route, same method | p50 ms | p99 ms | non-2xx | errors |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of report.routes) {
    const same = r.route.startsWith('POST ') ? pct(r, emptyPost) : pct(r, empty);
    lines.push(`| \`${r.route}\` | ${Math.round(r.requestsPerSec).toLocaleString('en-US')} | ${pct(r, empty)} | ${same} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${r.non2xx} | ${r.errors + r.timeouts} |`);
  }
  return lines.join('\n') + '\n';
}

/** The routes under load, as autocannon options (also used by bench/server-profile.js). */
function benchCases(urls, n) {
  let next = 0;
  return [
    // Every case builds its request per call (setupRequest), so the load generator's own cost is the same for all.
    ['GET /empty (bare fastify)', { url: urls.empty, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/empty?k=user:${Math.floor(Math.random() * n)}` }) }] }],
    [
      // The same body as POST /keys, parsed by the bare app and answered {}: the peer of the POST routes.
      'POST /empty (bare fastify)',
      {
        url: urls.empty,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, path: '/empty', body: JSON.stringify({ key: `new:${next++}`, value: { n: next, city: `city${next % 100}` } }) }),
          },
        ],
      },
    ],
    ['GET /health (StrataDB app, no db)', { url: urls.strata, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/health?k=user:${Math.floor(Math.random() * n)}` }) }] }],
    ['GET /db/app/keys/{key}', { url: urls.strata, requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/db/app/keys/user:${Math.floor(Math.random() * n)}` }) }] }],
    [
      'POST /keys',
      {
        url: urls.strata,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, path: '/keys', body: JSON.stringify({ key: `new:${next++}`, value: { n: next, city: `city${next % 100}` } }) }),
          },
        ],
      },
    ],
    [
      'POST /db/log/keys (raw, no index)',
      {
        url: urls.strata,
        requests: [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req) => ({ ...req, path: '/db/log/keys', body: JSON.stringify({ key: `new:${next++}`, value: Buffer.from(`city${next % 100}`).toString('base64') }) }),
          },
        ],
      },
    ],
  ];
}

async function serverSection(cfg) {
  const seconds = num('SERVER_SECONDS', 10);
  const connections = Math.floor(num('SERVER_CONNECTIONS', 100));
  const n = Math.floor(num('SERVER_N', 10000));
  const rounds = Math.max(1, Math.min(Math.floor(num('SERVER_ROUNDS', 5)), Math.floor(seconds)));
  const perRound = Math.max(1, Math.ceil(seconds / rounds));
  const started = new Date();
  const dir = path.join(cfg.dir, 'server');
  process.stderr.write(`bench server: ${connections} connections, ${rounds} rounds of ${perRound} s per route, ${n} keys preloaded\n`);
  const execArgv = serverFlags();
  const child = fork(path.join(__dirname, 'server-target.js'), [dir, String(n)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const urls = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`bench server: the server exited with ${code} before listening`)));
  });
  const routes = [];
  try {
    const cases = benchCases(urls, n);
    const byRoute = new Map(cases.map(([name]) => [name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const [name, opts] of cases) {
        const s = summary(name, await run({ connections, duration: perRound, ...opts }));
        byRoute.get(name).push(s);
        process.stderr.write(`bench server: round ${round}/${rounds} ${name.padEnd(34)} ${Math.round(s.requestsPerSec).toLocaleString('en-US').padStart(9)} req/s  p99 ${s.latencyMs.p99} ms  non-2xx ${s.non2xx}\n`);
      }
    }
    for (const [name, list] of byRoute) routes.push(merge(name, list));
  } finally {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  const report = {
    section: 'server',
    date: started.toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version },
    config: { seconds: perRound * rounds, rounds, connections, n, serverNodeFlags: execArgv },
    routes,
  };
  const md = renderMarkdown(report);
  fs.mkdirSync(cfg.out, { recursive: true });
  const stamp = started.toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  for (const b of [`server-${stamp}`, 'server-latest']) {
    fs.writeFileSync(path.join(cfg.out, `${b}.json`), JSON.stringify(report, null, 2) + '\n');
    fs.writeFileSync(path.join(cfg.out, `${b}.md`), md);
  }
  process.stdout.write(md);
  process.stderr.write(`bench server: wrote ${path.join(cfg.out, `server-${stamp}.{json,md}`)} and server-latest.{json,md}\n`);
  if (routes.some((r) => r.non2xx > 0 || r.errors > 0)) {
    process.stderr.write('bench server: some requests failed\n');
    process.exitCode = 1;
  }
}

module.exports = { serverSection, renderMarkdown, benchCases, num, run, serverFlags, median };
