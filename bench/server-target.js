'use strict';
// The processes under load in the `server` bench section: StrataDB's HTTP server (serve(),
// from dist/) over a two-instance lsm.toml with N preloaded keys, and beside it a bare fastify
// app with one empty route, in the same process. Reports both URLs to the parent (IPC), then
// runs until SIGTERM (graceful shutdown closes the databases).
//   node bench/server-target.js <dir> <n>

const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');
const Fastify = require('fastify');
// STRATA_BENCH_SERVER_DIST: another build's dist/ (bench/server-profile.js, PROFILE_AB).
const { serve } = require(process.env.STRATA_BENCH_SERVER_DIST ? path.join(path.resolve(process.env.STRATA_BENCH_SERVER_DIST), 'server') : '../dist/server');

async function main() {
  const [dir, nRaw] = process.argv.slice(2);
  const n = Number(nRaw);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'indexes_app.toml'), '[[index]]\nname = "city"\ntype = "equality"\nextractor = { kind = "bson_path", path = "$.city" }\n');
  fs.writeFileSync(
    path.join(dir, 'lsm.toml'),
    [
      '[server]',
      'log_level = "warn"',
      'max_in_flight = 4096',
      '',
      '[[instance]]',
      'name = "app"',
      'data_dir = "./.lsm_app"',
      'codec = "bson"',
      'indexes_file = "./indexes_app.toml"',
      '',
      '[[instance]]',
      'name = "log"',
      'data_dir = "./.lsm_log"',
      'codec = "raw"',
      'query = false',
      '',
    ].join('\n'),
  );
  const server = await serve({ config: path.join(dir, 'lsm.toml'), port: 0, envFile: false });
  const db = server.instances.get('app').db;
  for (let i = 0; i < n; i += 1000) {
    const ops = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) ops.push({ type: 'put', key: `user:${j}`, value: { n: j, city: `city${j % 100}`, name: `user ${j}` } });
    await db.batch(ops);
  }
  await db.flush();
  const empty = Fastify({ logger: false });
  empty.get('/empty', async () => ({}));
  // The peer of the POST routes: the same JSON body parsed, `{}` answered.
  empty.post('/empty', async () => ({}));
  await empty.listen({ host: '127.0.0.1', port: 0 });
  process.once('SIGTERM', () => empty.close());
  process.on('message', (m) => profiler(m).catch((e) => process.send({ type: 'error', message: String(e.stack ?? e) })));
  process.send({ strata: server.url, empty: `http://127.0.0.1:${empty.server.address().port}` });
}

/**
 * bench/server-profile.js drives this: `profile-start` starts V8's CPU profiler (and notes the
 * process's CPU time), `profile-stop` stops it, writes the profile to `m.file` and answers
 * with the CPU time the process used in between (user + system, every thread) and the main
 * thread's time on a CPU and waiting for one (/proc/self/task/<pid>/schedstat).
 */
let session;
let cpu0;
let main0;
/** The main thread's time on a CPU and waiting for one, in µs (Linux; zeros elsewhere). */
function mainThread() {
  try {
    const [run, wait] = fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { run: run / 1000, wait: wait / 1000 };
  } catch {
    return { run: 0, wait: 0 };
  }
}
async function profiler(m) {
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
  if (m.type === 'profile-start') {
    if (session === undefined) {
      session = new inspector.Session();
      session.connect();
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: m.intervalUs ?? 200 });
    }
    await post('Profiler.start');
    cpu0 = process.cpuUsage();
    main0 = mainThread();
    process.send({ type: 'profile-started' });
  } else if (m.type === 'profile-stop') {
    const cpu = process.cpuUsage(cpu0);
    const main = mainThread();
    const { profile } = await post('Profiler.stop');
    fs.writeFileSync(m.file, JSON.stringify(profile));
    process.send({ type: 'profile-stopped', cpuUs: cpu.user + cpu.system, mainUs: main.run - main0.run, mainWaitUs: main.wait - main0.wait });
  }
}

main().catch((e) => {
  process.stderr.write(`server-target: ${e.stack ?? e}\n`);
  process.exit(1);
});
