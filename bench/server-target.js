'use strict';
// The processes under load in the `server` bench section: StrataDB's HTTP server (serve(),
// from dist/) over a two-instance lsm.toml with N preloaded keys, and beside it a bare fastify
// app with one empty route, in the same process. Reports both URLs to the parent (IPC), then
// runs until SIGTERM (graceful shutdown closes the databases).
//   node bench/server-target.js <dir> <n>

const fs = require('node:fs');
const path = require('node:path');
const Fastify = require('fastify');
const { serve } = require('../dist/server');

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
  await empty.listen({ host: '127.0.0.1', port: 0 });
  process.once('SIGTERM', () => empty.close());
  process.send({ strata: server.url, empty: `http://127.0.0.1:${empty.server.address().port}` });
}

main().catch((e) => {
  process.stderr.write(`server-target: ${e.stack ?? e}\n`);
  process.exit(1);
});
