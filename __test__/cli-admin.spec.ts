/**
 * The admin commands of `strata` (ts/cli/admin.ts), run as a user would: exit codes, `--json`
 * results, progress on stderr, usage errors, and Ctrl-C leaving nothing half-written.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { open, openInstances } from '../ts/index';
import { tmpPath } from './helpers';

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));

function strata(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { env, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function filled(n: number): Promise<string> {
  const dir = tmpPath();
  const db = await open<string, { city: string; n: number }>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: [{ name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } }] });
  for (let i = 0; i < n; i += 1000) {
    await db.batch(Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ type: 'put' as const, key: `k${String(i + j).padStart(6, '0')}`, value: { city: `c${(i + j) % 3}`, n: i + j } })));
  }
  await db.close();
  return dir;
}

test('backup, backups list/verify/purge, restore, checkpoint: exit codes and --json results', async (t) => {
  const dir = await filled(2000);
  const root = tmpPath();
  const archive = path.join(root, 'b.tar.gz');
  const b = strata('backup', dir, '--output', archive, '--json');
  t.is(b.code, 0, b.stderr);
  const info = JSON.parse(b.stdout) as { id: number; sequence: number; files: number };
  t.is(info.id, 1);
  t.is(b.stderr, '', '--json prints no progress');
  const plain = strata('backup', dir, '-o', path.join(root, 'dir'));
  t.is(plain.code, 0);
  t.regex(plain.stdout, /^backup 1 of .* at sequence \d+/);
  t.regex(plain.stderr, /^checkpoint: .*\nhash: /m, 'progress, one line per step when not a terminal');
  t.is(strata('backup', dir, '-o', path.join(root, 'dir')).code, 0);
  const list = JSON.parse(strata('backups', 'list', path.join(root, 'dir'), '--json').stdout) as { id: number }[];
  t.deepEqual(list.map((x) => x.id), [1, 2]);
  t.is(strata('backups', 'verify', archive).code, 0);
  const restored = path.join(root, 'restored');
  const r = strata('restore', '--input', path.join(root, 'dir'), restored, '--id', '1', '--json');
  t.is(r.code, 0, r.stderr);
  t.is((JSON.parse(r.stdout) as { id: number }).id, 1);
  const again = strata('restore', '--input', archive, restored);
  t.is(again.code, 2);
  t.regex(again.stderr, /STRATA_EXISTS/);
  t.is(strata('restore', '--input', archive, restored, '--force').code, 0);
  t.is(strata('verify', restored).code, 0);
  const purge = JSON.parse(strata('backups', 'purge', path.join(root, 'dir'), '--keep', '1', '--json').stdout) as { removed: number[] };
  t.deepEqual(purge.removed, [1]);
  const cp = strata('checkpoint', dir, path.join(root, 'cp'), '--json');
  t.is(cp.code, 0, cp.stderr);
  t.is(strata('verify', path.join(root, 'cp')).code, 0);

  // Damage: backups verify exits 1 (problems), like verify.
  const shared = path.join(root, 'dir', 'shared');
  const f = path.join(shared, fs.readdirSync(shared)[0] as string);
  const bytes = fs.readFileSync(f);
  bytes[10] ^= 1;
  fs.writeFileSync(f, bytes);
  const bad = strata('backups', 'verify', path.join(root, 'dir'));
  t.is(bad.code, 1);
  t.regex(bad.stdout, /SHA-256/);
});

test('export and import, indexes and stats commands; usage errors exit 64 and create nothing', async (t) => {
  const dir = await filled(3000);
  const root = tmpPath();
  fs.mkdirSync(root, { recursive: true });
  const out = path.join(root, 'e.ndjson');
  const e = strata('export', dir, '--value-encoding', 'json', '--prefix', 'k001', '-o', out, '--json');
  t.is(e.code, 0, e.stderr);
  t.is((JSON.parse(e.stdout) as { entries: number }).entries, 1000);
  const first = JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0] as string) as { key: string; value: { n: number } };
  t.deepEqual(first, { key: 'k001000', value: { city: 'c1', n: 1000 } });
  const toStdout = strata('export', dir, '--format', 'csv', '--prefix', 'k00000');
  t.is(toStdout.stdout.split('\n')[0], 'key,keyBase64,value,valueBase64');
  const into = path.join(root, 'imported');
  const i = strata('import', into, '--input', out, '--value-encoding', 'json', '--batch-size', '100', '--json');
  t.is(i.code, 0, i.stderr);
  t.deepEqual(JSON.parse(i.stdout), { entries: 1000, batches: 10 });
  const idx = JSON.parse(strata('indexes', dir, '--json').stdout) as { name: string; state: string }[];
  t.deepEqual(idx.map((x) => [x.name, x.state]), [['city', 'ready']]);
  const stats = JSON.parse(strata('stats', dir, '--json').stdout) as { levels: unknown[] };
  t.true(Array.isArray(stats.levels));
  t.is(strata('rebuild-index', dir, 'city', '--json').code, 0);
  t.is(strata('compact', dir).code, 0);

  for (const args of [['export', dir, '--format', 'xml'], ['backup', dir], ['backups', 'purge', root, '--keep', '-1'], ['import', into], ['backup', dir, '-o', 'x', '--bogus']]) {
    const r = strata(...args);
    t.is(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
  }
  const missing = strata('stats', path.join(root, 'nothing-here'));
  t.is(missing.code, 2);
  t.false(fs.existsSync(path.join(root, 'nothing-here')), 'an admin command never creates a database');
});

test('--config lsm.toml --instance name: every database command opens the instance with its codec and indexes', async (t) => {
  const root = tmpPath();
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'indexes_app.toml'), '[[index]]\nname = "city"\ntype = "equality"\nextractor = { kind = "bson_path", path = "$.city" }\n');
  const toml = path.join(root, 'lsm.toml');
  fs.writeFileSync(
    toml,
    '[[instance]]\nname = "app"\ndata_dir = "./.lsm_app"\ncodec = "bson"\nquery = true\nindexes_file = "./indexes_app.toml"\n\n' +
      '[[instance]]\nname = "log"\ndata_dir = "./.lsm_log"\ncodec = "raw"\nquery = false\n',
  );
  const instances = await openInstances(toml, { dbOptions: { env: {}, envFile: false } });
  await instances.get('app').db.batch(Array.from({ length: 300 }, (_, i) => ({ type: 'put' as const, key: `u${i}`, value: { city: `c${i % 3}` } })));
  await instances.get('log').db.put('line1', Buffer.from([0xff, 0x00]));
  await instances.close();

  // BSON values come out as JSON: the instance's codec was used, not utf8.
  const out = path.join(root, 'app.ndjson');
  const e = strata('export', '--config', toml, '--instance', 'app', '-o', out, '--json');
  t.is(e.code, 0, e.stderr);
  t.is((JSON.parse(e.stdout) as { entries: number }).entries, 300);
  t.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8').split('\n')[0] as string), { key: 'u0', value: { city: 'c0' } });
  // --config alone: the first instance (no `default`).
  const idx = JSON.parse(strata('indexes', '--config', toml, '--json').stdout) as { name: string; state: string }[];
  t.deepEqual(idx.map((x) => [x.name, x.state]), [['city', 'ready']]);
  const rebuilt = strata('rebuild-index', '--config', toml, '--instance', 'app', 'city', '--json');
  t.is(rebuilt.code, 0, rebuilt.stderr);
  t.is((JSON.parse(rebuilt.stdout) as { name: string }).name, 'city');
  const v = strata('verify', '--config', toml, '--instance', 'log');
  t.is(v.code, 0, v.stderr);
  t.regex(v.stdout, /ok: instance log \(.*\.lsm_log\) is clean/);
  const logExport = JSON.parse(strata('export', '--config', toml, '--instance', 'log').stdout.split('\n')[0] as string) as { key: string; valueBase64: string };
  t.deepEqual(logExport, { key: 'line1', valueBase64: '/wA=' });
  const cp = strata('checkpoint', '--config', toml, '--instance', 'app', path.join(root, 'cp'), '--json');
  t.is(cp.code, 0, cp.stderr);
  const backup = strata('backup', '--config', toml, '--instance', 'log', '-o', path.join(root, 'log.tar.gz'));
  t.is(backup.code, 0, backup.stderr);
  t.regex(backup.stdout, /backup 1 of instance log/);
  // $STRATA_SERVER_CONFIG is the default config, as for `strata serve`.
  const viaEnv = spawnSync(process.execPath, [CLI, 'stats', '--instance', 'app', '--json'], { env: { ...env, STRATA_SERVER_CONFIG: toml }, encoding: 'utf8' });
  t.is(viaEnv.status, 0, viaEnv.stderr);

  // The rebuilt index answers, with the instance's codec (BSON records).
  const app = await openInstances(toml, { dbOptions: { env: {}, envFile: false } });
  t.is(await app.get('app').db.count({ index: 'city', eq: 'c1' }), 100);
  await app.close();

  const both = strata('stats', root, '--config', toml);
  t.is(both.code, 64);
  t.regex(both.stderr, /not both/);
  const unknown = strata('stats', '--config', toml, '--instance', 'nope');
  t.is(unknown.code, 64);
  t.regex(unknown.stderr, /no instance "nope" in .*lsm\.toml \(instances: app, log\)/);
  t.is(strata('stats').code, 64, 'no directory and no config');
  t.is(strata('rebuild-index', '--config', toml).code, 64, 'the index name is still required');
  const badFile = strata('stats', '--config', path.join(root, 'missing.toml'));
  t.is(badFile.code, 2);
  t.regex(badFile.stderr, /missing\.toml/);
});

test('Ctrl-C during an export to a file removes the partial file and exits 130', async (t) => {
  const dir = await filled(60000);
  const out = path.join(tmpPath(), 'big.ndjson');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const child = spawn(process.execPath, [CLI, 'export', dir, '-o', out], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && /export: \d+ entries/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(sent, stderr);
  t.is(code, 130, stderr);
  t.regex(stderr, /interrupted: the export was not completed/);
  t.false(fs.existsSync(`${out}.partial`));
  t.false(fs.existsSync(out));
});

// Serial: the other tests' spawnSync calls block this worker's event loop, which would delay the Ctrl-C.
test.serial('Ctrl-C during an import rolls it back and exits 130: the database is as before', async (t) => {
  const dir = await filled(1000);
  const before = await (async () => {
    const db = await open(dir, { env: {}, envFile: false });
    const all = await db.iterator().all();
    await db.close();
    return all;
  })();
  const input = path.join(tmpPath(), 'big.ndjson');
  fs.mkdirSync(path.dirname(input), { recursive: true });
  fs.writeFileSync(input, Array.from({ length: 250_000 }, (_, i) => JSON.stringify({ key: `k${String(i).padStart(6, '0')}`, value: JSON.stringify({ city: 'x', n: -i }) })).join('\n'));
  const child = spawn(process.execPath, [CLI, 'import', dir, '--input', input, '--batch-size', '500'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && /import: [\d.]+\/[\d.]+ MiB/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.true(sent, stderr);
  t.is(code, 130, stderr);
  t.regex(stderr, /interrupted: import aborted \(nothing was imported: the \d+ records written before it were rolled back/);
  const db = await open(dir, { env: {}, envFile: false });
  t.deepEqual(await db.iterator().all(), before);
  await db.close();
});

test('strata serve runs the instances of lsm.toml, answers over HTTP, and exits 0 on SIGTERM; a bad config exits 2 naming the line', async (t) => {
  const dir = tmpPath();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'lsm.toml'),
    '[[instance]]\nname = "app"\ndata_dir = "./.lsm_app"\ncodec = "bson"\nquery = true\n\n[[instance]]\nname = "log"\ndata_dir = "./.lsm_log"\ncodec = "raw"\nquery = false\n',
  );
  const child = spawn(process.execPath, [CLI, 'serve', '--config', path.join(dir, 'lsm.toml'), '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /serving app, log on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', () => reject(new Error(`serve exited: ${stderr}`)));
  });
  const put = await fetch(`${url}/db/app/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ key: 'u1', value: { city: 'Lisbon' } }) });
  t.is(put.status, 200);
  t.deepEqual(await (await fetch(`${url}/db/app/keys/u1`)).json(), { key: 'u1', value: { city: 'Lisbon' } });
  child.kill('SIGTERM');
  t.is(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
  t.true(fs.existsSync(path.join(dir, '.lsm_app', 'MANIFEST')));

  fs.writeFileSync(path.join(dir, 'bad.toml'), '[[instance]]\nname = "app"\ndata_dir = "./x"\ncodec = "yaml"\n');
  const bad = strata('serve', '--config', path.join(dir, 'bad.toml'), '--port', '0');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /bad\.toml:4/);
  t.is(strata('serve', '--port', 'eighty').code, 64);
});

test('strata serve with grpc_port serves gRPC beside HTTP, and closes both on SIGTERM', async (t) => {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const dir = tmpPath();
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'lsm.toml'), '[server]\ngrpc_port = 0\n\n[[instance]]\nname = "app"\ndata_dir = "./.lsm_app"\ncodec = "json"\n');
  const child = spawn(process.execPath, [CLI, 'serve', '--config', path.join(dir, 'lsm.toml'), '--port', '0'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  const ports = await new Promise<{ http: string; grpc: number }>((resolve, reject) => {
    const seen = (d: Buffer): void => {
      out += d.toString();
      const h = /serving app on (http:\/\/127\.0\.0\.1:\d+) and gRPC on port \d+/.exec(out);
      const g = /"port":(\d+),"msg":"grpc listening"/.exec(out);
      if (h && g) resolve({ http: h[1] as string, grpc: Number(g[1]) });
    };
    child.stderr.on('data', seen);
    child.stdout.on('data', seen);
    child.on('exit', () => reject(new Error(`serve exited: ${out}`)));
  });
  t.is((await fetch(`${ports.http}/health`)).status, 200);
  const def = loader.loadSync(path.join(__dirname, '..', 'proto', 'stratadb.proto'), { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { stratadb: { v1: { Strata: new (addr: string, creds: unknown) => Record<string, (req: unknown, cb: (e: Error | null, r: unknown) => void) => void> & { close(): void } } } };
  const client = new pkg.stratadb.v1.Strata(`127.0.0.1:${ports.grpc}`, grpc.credentials.createInsecure());
  const call = (m: string, req: unknown): Promise<unknown> => new Promise((resolve, reject) => client[m]?.(req, (e, r) => (e ? reject(e) : resolve(r))));
  await call('Put', { key: Buffer.from('g1'), value: { json: '{"via":"grpc"}' } });
  client.close();
  t.deepEqual(await (await fetch(`${ports.http}/keys/g1`)).json(), { key: 'g1', value: { via: 'grpc' } });
  child.kill('SIGTERM');
  t.is(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
});
