/**
 * abstract-level's own test suite against `StrataLevel`, in a child process (tape owns its
 * process: it sets the exit code and prints the summary). Fails on any failed assertion,
 * a crash, or a summary that is missing; prints tape's pass/fail counts.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import test from 'ava';

const RUNNER = path.join(__dirname, 'level-suite.ts');

test('abstract-level compliance suite passes against StrataLevel', async (t) => {
  t.timeout(10 * 60 * 1000);
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));

  const count = (what: string) => Number(new RegExp(`^# ${what}\\s+(\\d+)$`, 'm').exec(out)?.[1] ?? NaN);
  const total = count('tests');
  const pass = count('pass');
  const fail = Number.isNaN(count('fail')) ? 0 : count('fail');
  const summary = `abstract-level suite: ${total} assertions, ${pass} passed, ${fail} failed`;
  t.log(summary);

  const failures = out.split('\n').filter((l) => l.startsWith('not ok'));
  t.deepEqual(failures, [], 'no failed assertions');
  t.is(fail, 0);
  t.true(pass > 0 && pass === total, 'every assertion ran and passed');
  t.is(code, 0, `runner exited with ${code}\n${err.slice(-2000)}`);
});
