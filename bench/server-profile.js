#!/usr/bin/env node
'use strict';
// Where the server's time goes per request: the routes of the `server` bench section
// (bench/server-bench.js) under autocannon, each with V8's CPU profiler running in the server
// process (bench/server-target.js) only while that route is loaded. Per route: requests/s, the
// process's CPU time per request (every thread: JS, libuv, the engine's threads; and the load
// generator's, autocannon in this process, for scale), the main
// thread's CPU time per request (Linux schedstat: time on a CPU, not time waiting for one),
// and that time split by package / file of ours and by function after the profile's shares
// (the profile samples wall time, so its shares are scaled to the main thread's CPU time).
// CPU time per request is far less sensitive to the machine's load than requests/s, so it is
// the figure to compare before/after a change on a shared machine; it still falls a little as
// the rate rises (more requests per event-loop turn and per syscall), so PROFILE_RATE loads
// every route at the same fixed rate for a like-for-like comparison.
//   node bench/server-profile.js            (dist/ must be built: npm run build:ts)
// Settings (STRATA_BENCH_ prefix optional): PROFILE_SECONDS (3 per route per round),
// PROFILE_ROUNDS (2, interleaved), SERVER_CONNECTIONS (100), SERVER_N (10000),
// PROFILE_ROUTES (comma-separated substrings of route names; default all),
// PROFILE_RATE (requests/s over all connections; default: as fast as the server answers),
// PROFILE_INTERVAL_US (200), PROFILE_TOP (15), PROFILE_OUT (a folder: keep the .cpuprofile
// of each route there, to open in Chrome DevTools), PROFILE_JSON (write the figures there).

const { fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { env } = require('./lib/common');
const { benchCases, num, run, serverFlags } = require('./server-bench');

/** Package (node_modules/<pkg>), file of ours (dist/...), node module, or V8's own entries. */
function category(frame) {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 14).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const d = url.indexOf('/dist/');
  if (d >= 0) return `strata:${url.slice(d + 6)}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:');
  return path.basename(url);
}

/** Self and inclusive µs per node, then per category and per function. */
function analyse(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  let total = 0;
  const cats = new Map();
  const fnSelf = new Map();
  const fnIncl = new Map();
  const key = (f) => `${f.functionName || '(anonymous)'} ${category(f)}:${f.lineNumber + 1}`;
  for (const [id, us] of self) {
    const n = byId.get(id);
    total += us;
    const c = category(n.callFrame);
    cats.set(c, (cats.get(c) ?? 0) + us);
    const k = key(n.callFrame);
    fnSelf.set(k, (fnSelf.get(k) ?? 0) + us);
    // Inclusive: every distinct function on the sample's stack gets the sample once.
    const seen = new Set();
    for (let p = id; p !== undefined; p = parent.get(p)) {
      const f = byId.get(p).callFrame;
      if (f.functionName === '(root)') break;
      const pk = key(f);
      if (seen.has(pk)) continue;
      seen.add(pk);
      fnIncl.set(pk, (fnIncl.get(pk) ?? 0) + us);
    }
  }
  return { total, cats, fnSelf, fnIncl };
}

function addMaps(into, from) {
  for (const [k, v] of from) into.set(k, (into.get(k) ?? 0) + v);
}

const sortDesc = (m) => [...m].sort((a, b) => b[1] - a[1]);

async function main() {
  const seconds = num('PROFILE_SECONDS', 3);
  const rounds = Math.floor(num('PROFILE_ROUNDS', 2));
  const connections = Math.floor(num('SERVER_CONNECTIONS', 100));
  const n = Math.floor(num('SERVER_N', 10000));
  const intervalUs = Math.floor(num('PROFILE_INTERVAL_US', 200));
  const top = Math.floor(num('PROFILE_TOP', 15));
  const rate = env('PROFILE_RATE', undefined) === undefined ? undefined : Math.floor(num('PROFILE_RATE', 1));
  const want = env('PROFILE_ROUTES', undefined)?.split(',').map((s) => s.trim()).filter(Boolean);
  const keep = env('PROFILE_OUT', undefined);
  if (keep) fs.mkdirSync(keep, { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-server-profile-'));
  // PROFILE_AB=<another build's dist/>: every route also against a server of that build, in
  // its own process, interleaved with this build's (its routes are named with " [B]").
  const ab = env('PROFILE_AB', undefined);
  const targets = [{ label: '', dist: undefined }, ...(ab === undefined ? [] : [{ label: ' [B]', dist: path.resolve(ab) }])];
  const children = [];
  const cases = [];
  for (const [t, target] of targets.entries()) {
    const childEnv = { ...process.env };
    if (target.dist === undefined) delete childEnv.STRATA_BENCH_SERVER_DIST;
    else childEnv.STRATA_BENCH_SERVER_DIST = target.dist;
    const child = fork(path.join(__dirname, 'server-target.js'), [path.join(dir, `db${t}`), String(n)], { env: childEnv, execArgv: serverFlags(), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const urls = await new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`server-profile: the server exited with ${code} before listening`)));
    });
    const mine = [
      ...benchCases(urls, n),
    ].filter(([name]) => want === undefined || want.some((w) => name.includes(w)));
    for (const [i, [name, opts]] of mine.entries()) cases.push([name + target.label, opts, child, i]);
  }
  // This build's and the other build's turn of a route follow each other.
  cases.sort((a, b) => a[3] - b[3]);
  const ask = (child, msg, type) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m.type === 'error') reject(new Error(m.message));
        else if (m.type === type) resolve(m);
        else return;
        child.off('message', on);
      };
      child.on('message', on);
      child.send(msg);
    });
  const acc = new Map(cases.map(([name]) => [name, { requests: 0, seconds: 0, cpuUs: 0, genUs: 0, mainUs: 0, waitUs: 0, cats: new Map(), fnSelf: new Map(), fnIncl: new Map(), non2xx: 0, p99: [] }]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [name, opts, child] of cases) {
        const file = path.join(keep ?? dir, `${name.replace(/[^A-Za-z0-9]+/g, '_')}-${round}.cpuprofile`);
        await ask(child, { type: 'profile-start', intervalUs }, 'profile-started');
        const gen0 = process.cpuUsage();
        const r = await run({ connections, duration: seconds, ...(rate === undefined ? {} : { overallRate: rate }), ...opts });
        const gen = process.cpuUsage(gen0);
        const { cpuUs, mainUs, mainWaitUs } = await ask(child, { type: 'profile-stop', file }, 'profile-stopped');
        const a = analyse(JSON.parse(fs.readFileSync(file, 'utf8')));
        if (!keep) fs.rmSync(file);
        const s = acc.get(name);
        s.requests += r.requests.total;
        s.seconds += seconds;
        s.cpuUs += cpuUs;
        s.genUs += gen.user + gen.system;
        s.mainUs += mainUs;
        s.waitUs += mainWaitUs;
        // The profile's busy time is wall time (it counts time the thread waited for a core):
        // its shares are scaled to the main thread's CPU time.
        const busy = a.total - (a.cats.get('(idle)') ?? 0);
        const scale = mainUs > 0 && busy > 0 ? mainUs / busy : 1;
        for (const m of [a.cats, a.fnSelf, a.fnIncl]) for (const [k, v] of m) m.set(k, k.startsWith('(idle)') ? v : v * scale);
        s.non2xx += r.non2xx + r.errors + r.timeouts;
        s.p99.push(r.latency.p99);
        addMaps(s.cats, a.cats);
        addMaps(s.fnSelf, a.fnSelf);
        addMaps(s.fnIncl, a.fnIncl);
        process.stderr.write(
          `server-profile: round ${round}/${rounds} ${name.padEnd(34)} ${Math.round(r.requests.average).toLocaleString('en-US').padStart(8)} req/s  ` +
            `cpu ${(cpuUs / r.requests.total).toFixed(1)} µs/req  main thread ${(mainUs / r.requests.total).toFixed(1)} µs/req  ` +
            `(waited for a core ${((100 * mainWaitUs) / (mainUs + mainWaitUs || 1)).toFixed(0)} %)  p99 ${r.latency.p99} ms\n`,
        );
      }
    }
  } finally {
    await Promise.all(
      children.map((child) => {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return exited;
      }),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const out = [];
  const perReq = (us, s) => +(us / s.requests).toFixed(2);
  for (const [name, s] of acc) {
    const busy = [...s.cats].reduce((t, [c, us]) => (c === '(idle)' ? t : t + us), 0);
    const row = {
      route: name,
      requestsPerSec: Math.round(s.requests / s.seconds),
      requests: s.requests,
      failed: s.non2xx,
      p99Ms: s.p99,
      cpuUsPerRequest: perReq(s.cpuUs, s),
      mainThreadUsPerRequest: perReq(s.mainUs, s),
      loadGeneratorUsPerRequest: perReq(s.genUs, s),
      mainWaitedPercent: +((100 * s.waitUs) / (s.mainUs + s.waitUs || 1)).toFixed(1),
      mainJsUsPerRequest: perReq(busy - (s.cats.get('(program)') ?? 0) - (s.cats.get('(garbage collector)') ?? 0), s),
      gcUsPerRequest: perReq(s.cats.get('(garbage collector)') ?? 0, s),
      byCategory: Object.fromEntries(sortDesc(s.cats).filter(([c]) => c !== '(idle)').map(([c, us]) => [c, perReq(us, s)])),
      topSelf: sortDesc(s.fnSelf).filter(([k]) => !k.startsWith('(idle)')).slice(0, top).map(([k, us]) => [k, perReq(us, s)]),
      topInclusive: sortDesc(s.fnIncl).filter(([k]) => !k.startsWith('(')).slice(0, top).map(([k, us]) => [k, perReq(us, s)]),
    };
    out.push(row);
    const lines = [
      `\n== ${name}: ${row.requestsPerSec.toLocaleString('en-US')} req/s, ${row.requests} requests (${row.failed} failed), p99 ${row.p99Ms.join('/')} ms`,
      `   per request: process CPU ${row.cpuUsPerRequest} µs; main thread ${row.mainThreadUsPerRequest} µs (JS and native ${row.mainJsUsPerRequest}, GC ${row.gcUsPerRequest}); the main thread waited for a core ${row.mainWaitedPercent} % of the time; the load generator (autocannon, this process) ${row.loadGeneratorUsPerRequest} µs`,
      '   main-thread µs per request by package/file (self time):',
      ...Object.entries(row.byCategory).slice(0, top).map(([c, us]) => `     ${String(us).padStart(7)}  ${c}`),
      '   top functions, self µs per request:',
      ...row.topSelf.map(([k, us]) => `     ${String(us).padStart(7)}  ${k}`),
      '   top functions, inclusive µs per request:',
      ...row.topInclusive.map(([k, us]) => `     ${String(us).padStart(7)}  ${k}`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  const json = env('PROFILE_JSON', undefined);
  if (json) fs.writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), config: { seconds, rounds, connections, n, intervalUs, rate: rate ?? null }, routes: out }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`server-profile: ${e.stack ?? e}\n`);
  process.exit(1);
});
