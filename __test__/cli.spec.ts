import { spawn } from 'node:child_process';
import * as path from 'node:path';
import test from 'ava';

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
