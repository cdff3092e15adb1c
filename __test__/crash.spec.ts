/**
 * Durability under SIGKILL: a child process makes writes and reports each acknowledged key;
 * the parent kills it mid-stream, reopens the database and checks that every acknowledged
 * write is there. With `sync: true` that holds because the WAL was fsynced; with
 * `sync: false` because the WAL bytes were handed to the OS (one write(2)) before the
 * promise resolved, and a process crash does not lose the OS's page cache.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';

import test, { ExecutionContext } from 'ava';

import { fresh, tmpPath } from './helpers';

const WRITER = path.join(__dirname, 'fixtures', 'crash-writer.ts');

async function killAndCheck(t: ExecutionContext, mode: 'sync' | 'nosync', target: number): Promise<void> {
  const location = tmpPath();
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, location, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const lines = readline.createInterface({ input: child.stdout });
  for await (const line of lines) {
    if (line.startsWith('ack ')) acked.push(line.slice(4));
    if (acked.length >= target) {
      child.kill('SIGKILL');
      break;
    }
  }
  const signal = await exited;
  t.is(signal, 'SIGKILL');
  t.true(acked.length >= target, `child acknowledged ${acked.length} writes`);

  const db = await fresh({}, location);
  try {
    const values = await db.getMany(acked);
    const missing = acked.filter((_, i) => values[i] === undefined);
    t.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged writes were lost`);
    for (const [i, key] of acked.entries()) {
      const n = Number(key.slice(1));
      if (values[i] !== `v${n}`) t.fail(`${key} has ${String(values[i])}`);
      if (n % 10 === 9 && (await db.get(`${key}-b`)) !== 'batch') t.fail(`batch partner of ${key} is missing`);
    }
  } finally {
    await db.close();
  }
}

test('every acknowledged sync write survives SIGKILL', async (t) => {
  await killAndCheck(t, 'sync', 300 + Math.floor(Math.random() * 200));
});

test('every acknowledged sync: false write survives SIGKILL', async (t) => {
  await killAndCheck(t, 'nosync', 5000 + Math.floor(Math.random() * 5000));
});
