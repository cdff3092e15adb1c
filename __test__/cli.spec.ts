import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import { open, openInstances } from '../ts/index';
import { tmpPath } from './helpers';

const CLI = path.join(__dirname, '..', 'dist', 'cli', 'index.js');

function repl(location: string, input: string): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
    const child = spawn(process.execPath, [CLI, location], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout, stderr, code }));
    child.stdin.end(input);
  });
}

test('SET, GET, DELETE, quoting, case-insensitivity', async (t) => {
  const { stdout, code } = await repl(tmpPath(), 'SET a 1\nset b "hello world"\nGet b\nGET a\nDELETE a\nGET a\nEXIT\n');
  t.is(code, 0);
  t.deepEqual(stdout.trim().split('\n'), ['OK', 'OK', '"hello world"', '1', 'OK', '(nil)']);
});

test('SCAN, KEYS, COUNT with prefix and limit', async (t) => {
  const input = ['SET user:1 ann', 'SET user:2 bob', 'SET user:3 cid', 'SET zed z', 'SCAN user: 2', 'KEYS user:', 'COUNT', 'COUNT user:', 'SCAN'].join('\n');
  const { stdout } = await repl(tmpPath(), input + '\n');
  const lines = stdout.trim().split('\n').slice(4);
  t.deepEqual(lines, [
    '1) user:1 = ann',
    '2) user:2 = bob',
    '(2 entries)',
    'user:1',
    'user:2',
    'user:3',
    '(3 keys)',
    '(integer) 4',
    '(integer) 3',
    '1) user:1 = ann',
    '2) user:2 = bob',
    '3) user:3 = cid',
    '4) zed = z',
    '(4 entries)',
  ]);
});

test('DEMO writes its records in one batch, ALL lists every entry; bad counts are errors that write nothing', async (t) => {
  const dir = tmpPath();
  const { stdout } = await repl(dir, ['SET zed z', 'DEMO 12', 'COUNT demo:user:', 'DEMO 0', 'DEMO lots', 'DEMO 100001', 'COUNT', 'ALL', 'ALL extra'].join('\n') + '\n');
  const lines = stdout.trim().split('\n');
  t.is(lines[0], 'OK');
  t.regex(lines[1] as string, /^OK \(12 demo records under demo:user:, one atomic batch; try: GET demo:user:00 /);
  t.is(lines[2], '(integer) 12');
  t.regex(lines[3] as string, /^\(error\) STRATA_INVALID_ARGUMENT: DEMO writes 1 to 100000 records, got 0/);
  t.regex(lines[4] as string, /^\(error\) STRATA_INVALID_ARGUMENT: limit must be a non-negative integer/);
  t.regex(lines[5] as string, /^\(error\) STRATA_INVALID_ARGUMENT: DEMO writes 1 to 100000/);
  t.is(lines[6], '(integer) 13', 'the refused DEMOs wrote nothing');
  const all = lines.slice(7, 7 + 14);
  t.is(all.length, 14);
  t.regex(all[0] as string, /^1\) demo:user:00 = "\{\\"name\\":\\"Ana 0\\",\\"city\\":\\"Lisbon\\",\\"age\\":18,\\"active\\":false\}"$/);
  t.is(all[12], '13) zed = z');
  t.is(all[13], '(13 entries)');
  t.regex(lines[21] as string, /^\(error\) STRATA_INVALID_ARGUMENT: usage: ALL/);
  // The records are plain JSON strings, readable by any program.
  const db = await open(dir, { env: {}, envFile: false });
  t.deepEqual(JSON.parse((await db.get('demo:user:07')) as string), { name: 'Hana 7', city: 'Porto Alegre', age: 18 + ((7 * 13) % 60), active: true });
  await db.close();
});

test('the REPL on an lsm.toml instance (--config/--instance): JSON values for a bson instance, text for a raw one', async (t) => {
  const root = tmpPath('repl-inst');
  fs.mkdirSync(root, { recursive: true });
  const toml = path.join(root, 'lsm.toml');
  fs.writeFileSync(toml, '[[instance]]\nname = "app"\ndata_dir = "./.lsm_app"\ncodec = "bson"\n\n[[instance]]\nname = "log"\ndata_dir = "./.lsm_log"\ncodec = "raw"\nquery = false\n');
  const run = (args: string[], input: string): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_'))) });
  const app = run(['--config', toml, '--instance', 'app'], `SET u1 '{"city":"Lisbon","n":{"$numberLong":"9007199254740993"}}'\nGET u1\nSET u2 plain\nDEMO 2\nGET demo:user:1\n`);
  t.is(app.status, 0, String(app.stderr));
  const lines = String(app.stdout).trim().split('\n');
  t.is(lines[0], 'OK');
  t.is(lines[1], '{"city":"Lisbon","n":{"$numberLong":"9007199254740993"}}');
  t.regex(lines[2] as string, /^\(error\) STRATA_INVALID_ARGUMENT: a bson instance takes JSON values/);
  t.is(lines[4], '{"name":"Bruno 1","city":"Porto Alegre","age":31,"active":true}');
  const log = run(['--config', toml, '--instance', 'log'], 'SET line1 "hello there"\nGET line1\n');
  t.is(log.status, 0, String(log.stderr));
  t.deepEqual(String(log.stdout).trim().split('\n'), ['OK', '"hello there"']);
  // What the REPL wrote is what the instance's codec reads.
  const inst = await openInstances(toml, { dbOptions: { env: {}, envFile: false } });
  t.deepEqual(await inst.get('log').db.get('line1'), Buffer.from('hello there'));
  t.is(((await inst.get('app').db.get('u1')) as { city: string }).city, 'Lisbon');
  await inst.close();
  t.is(run(['./x', '--config', toml], '').status, 64, 'a directory and a config');
});

test('BATCH applies atomically on COMMIT/END and ABORT discards', async (t) => {
  const input = ['SET gone x', 'BATCH', 'SET a 1', 'SET b "two words"', 'DELETE gone', 'COMMIT', 'BATCH', 'SET c 3', 'ABORT', 'BATCH', 'SET d 4', 'END', 'SCAN'].join('\n');
  const { stdout } = await repl(tmpPath(), input + '\n');
  t.regex(stdout, /OK \(3 operations applied atomically\)/);
  t.regex(stdout, /ABORTED \(1 discarded\)/);
  t.true(stdout.trim().endsWith(['1) a = 1', '2) b = "two words"', '3) d = 4', '(3 entries)'].join('\n')));
});

test('errors are printed with their code and the REPL keeps going', async (t) => {
  const { stdout, stderr, code } = await repl(tmpPath(), 'FROB x\nSET onlykey\nGET ""\nSET k "unterminated\nCOMMIT\nSET ok yes\nGET ok\n');
  t.is(code, 0);
  const lines = stdout.trim().split('\n');
  t.is(lines[0], "(error) STRATA_INVALID_ARGUMENT: unknown command 'FROB' (try HELP)");
  t.regex(lines[1] as string, /^\(error\) STRATA_INVALID_ARGUMENT: usage: SET key value$/);
  t.is(lines[2], '(nil)', 'the empty key is a key like any other');
  t.regex(lines[3] as string, /^\(error\) STRATA_INVALID_ARGUMENT: unterminated quote$/);
  t.regex(lines[4] as string, /^\(error\) STRATA_INVALID_ARGUMENT: COMMIT without BATCH$/);
  t.deepEqual(lines.slice(5), ['OK', 'yes']);
  t.notRegex(stdout + stderr, /at .*\.js:\d+/);
});

test('STATS, COMPACT and HELP', async (t) => {
  const { stdout } = await repl(tmpPath(), 'SET a 1\nSTATS\nCOMPACT\nHELP\nQUIT\nGET a\n');
  t.regex(stdout, /lastSequence: 1/);
  t.regex(stdout, /\nOK\n/);
  t.regex(stdout, /SCAN \[prefix\] \[n\]/);
  t.notRegex(stdout, /\n1\n$/, 'commands after QUIT are not run');
});

test('data written in one session is there in the next', async (t) => {
  const location = tmpPath();
  await repl(location, 'SET kept yes\n');
  const { stdout } = await repl(location, 'GET kept\n');
  t.is(stdout.trim(), 'yes');
});

test('SIGINT closes the database and exits', async (t) => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_')));
  const child = spawn(process.execPath, [CLI, tmpPath()], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('OK')) resolve();
    });
    child.stdin.write('SET a 1\n');
  });
  child.kill('SIGINT');
  t.is(await exited, 130);
});

function cli(args: string[], opts: { cwd?: string; env?: Record<string, string>; input?: string } = {}): { code: number | null; stdout: string; stderr: string } {
  const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('STRATA_'))), ...opts.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd, env, input: opts.input ?? '', encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--version and --help print and exit 0, creating nothing', (t) => {
  const cwd = tmpPath('cwd');
  fs.mkdirSync(cwd, { recursive: true });
  const version = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const v = cli(['--version'], { cwd });
  t.is(v.code, 0);
  t.is(v.stdout.trim(), version);
  t.is(cli(['-V'], { cwd }).stdout.trim(), version);
  const h = cli(['--help'], { cwd });
  t.is(h.code, 0);
  t.regex(h.stdout, /Usage: strata/);
  t.regex(h.stdout, /verify \[options\] \[dir\]/);
  t.regex(h.stdout, /Exit codes: 0 ok, 1 verify found problems/);
  t.is(cli(['help', 'verify'], { cwd }).code, 0);
  t.deepEqual(fs.readdirSync(cwd), [], 'nothing was created in the working directory');
});

test('unknown flags and commands are usage errors (64) that open nothing', (t) => {
  const cwd = tmpPath('cwd');
  fs.mkdirSync(cwd, { recursive: true });
  const cases: [string[], RegExp][] = [
    [['--bogus'], /unknown option '--bogus'/],
    [['launch', './db', 'out.tar'], /too many arguments/],
    [['launch'], /unknown command 'launch'.*\n.*strata \.\/launch/],
    [['backup', './db'], /required option '-o, --output <target>' not specified/],
    [['verify'], /missing database: give a directory, or --config lsm.toml/],
    [['verify', './a', './b'], /too many arguments/],
    [['verify', '--deep', './a'], /unknown option '--deep'/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args, { cwd });
    t.is(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
  }
  t.deepEqual(fs.readdirSync(cwd), [], 'no database was created');
  // Written as a path, a command-like name is a directory.
  const r = cli(['./launch'], { cwd, input: 'SET a 1\n' });
  t.is(r.code, 0, r.stderr);
  t.true(fs.existsSync(path.join(cwd, 'launch', 'MANIFEST')));
});

test('a missing native binary exits 3, not a verify code, and says how to fix it', (t) => {
  const env = { STRATADB_NATIVE_PATH: path.join(tmpPath('nowhere'), 'stratadb.node') };
  for (const args of [['verify', tmpPath()], [tmpPath()]]) {
    const r = cli(args, { env });
    t.is(r.code, 3, r.stderr);
    t.regex(r.stderr, /no usable native binary for platform/);
    t.regex(r.stderr, /build-from-source/);
  }
  t.is(cli(['--help'], { env }).code, 0, '--help needs no native binary');
});

test('an unrelated STRATA_* variable is a warning, never fatal, in the REPL', (t) => {
  const r = cli([tmpPath()], { env: { STRATA_API_KEY: 'k-123', STRATA_HOME: '/x' }, input: 'SET a 1\nGET a\n' });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(r.stdout.trim().split('\n'), ['OK', '1']);
  t.regex(r.stderr, /unknown variable STRATA_API_KEY/);
  t.regex(r.stderr, /unknown variable STRATA_HOME/);
  t.notRegex(r.stderr, /k-123/);
});
