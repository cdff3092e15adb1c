/**
 * `db.checkpoint(dir)`: an openable copy at one sequence number while writes go on — with
 * its index registry and postings, consistent (verify() clean), holding every write
 * acknowledged before the call; bad targets refused with nothing touched; and a kill -9
 * in the middle of checkpoints leaves only complete checkpoints behind.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

import test from 'ava';

import { open } from '../ts/index';
import type { IndexDefinition } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

const CITY: IndexDefinition = { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } };

test('a checkpoint taken under concurrent indexed writes opens consistent, with its indexes, and holds every write acknowledged before it', async (t) => {
  const db = await fresh<string, { city: string; n: number }>({ valueEncoding: 'json', memtableSize: 64 * 1024, indexes: [CITY] });
  for (let i = 0; i < 3000; i += 500) {
    await db.batch(Array.from({ length: 500 }, (_, j) => ({ type: 'put' as const, key: `k${String(i + j).padStart(5, '0')}`, value: { city: `c${(i + j) % 5}`, n: i + j } })));
  }
  await db.del('k00007');
  const acknowledged = new Map((await db.iterator().all()).map(([k, v]) => [k, v.n]));
  // Writes keep coming while the checkpoint is taken.
  const during = Array.from({ length: 400 }, (_, i) => db.put(`k${String(i).padStart(5, '0')}`, { city: 'moved', n: 10_000 + i }));
  const target = path.join(tmpPath(), 'cp');
  const info = await db.checkpoint(target);
  await Promise.all(during);
  t.is(info.location, target);
  t.true(info.files > 0);
  t.is(info.linked, info.files, 'same file system: hard links');
  t.true(info.sequence >= 3001);

  const cp = await open<string, { city: string; n: number }>(target, { env: {}, envFile: false, valueEncoding: 'json' });
  try {
    t.deepEqual((await cp.verify()).problems, [], 'records and postings agree');
    t.deepEqual((await cp.listIndexes()).map((i) => [i.name, i.state]), [['city', 'ready']]);
    const got = new Map((await cp.iterator().all()).map(([k, v]) => [k, v.n]));
    // Each key holds its value from before, or one of the writes made during the checkpoint.
    t.is(got.size, acknowledged.size + (got.has('k00007') ? 1 : 0));
    for (const [k, n] of acknowledged) {
      const m = got.get(k);
      t.true(m === n || m === 10_000 + Number(k.slice(1)), `${k}: ${m}`);
    }
    const moved = [...got.values()].filter((n) => n >= 10_000).length;
    const q = await cp.count({ index: 'city', eq: 'moved' });
    t.is(q, moved, 'the index agrees with the records it holds');
  } finally {
    await cp.close();
  }
  // The source goes on independently.
  t.is((await db.get('k00001'))?.city, 'moved');
  await db.close();
});

test('bad checkpoint targets: typed errors, nothing touched', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  const root = tmpPath();
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'mine.txt'), 'keep');
  await expectCode(() => db.checkpoint(root), 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(fs.readdirSync(root), ['mine.txt']);
  await expectCode(() => db.checkpoint(db.location), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.checkpoint('' as string), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.checkpoint(42 as unknown as string), 'STRATA_INVALID_ARGUMENT');
  await db.close();
  await expectCode(() => db.checkpoint(path.join(root, 'later')), 'STRATA_CLOSED');
  t.false(fs.existsSync(path.join(root, 'later')));
});

test('kill -9 while checkpoints are taken: every checkpoint directory that exists is complete and consistent', async (t) => {
  t.timeout(2 * 60_000);
  const root = tmpPath('cps');
  fs.mkdirSync(root, { recursive: true });
  const location = path.join(root, 'db');
  const writer = path.join(__dirname, 'fixtures', 'checkpoint-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', writer, location, root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  const done: string[] = [];
  const target = 3 + Math.floor(Math.random() * 4);
  let killed = false;
  for await (const line of readline.createInterface({ input: child.stdout })) {
    if (line.startsWith('done ')) done.push(line.split(' ')[1] as string);
    if (!killed && done.length >= target) {
      // Somewhere inside a later checkpoint, usually.
      setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 30));
      killed = true;
    }
  }
  t.is(await exited, 'SIGKILL');
  const dirs = fs.readdirSync(root).filter((n) => n.startsWith('cp-') && !n.endsWith('.checkpoint-tmp'));
  for (const d of done) t.true(dirs.includes(d), `${d} was reported done`);
  t.true(dirs.length >= done.length);
  for (const d of dirs) {
    const cp = await open<string, { city: string }>(path.join(root, d), { env: {}, envFile: false, valueEncoding: 'json' });
    try {
      t.deepEqual((await cp.verify()).problems, [], `${d} verifies`);
      const n = (await cp.keys().all()).length;
      t.is(await cp.count({ index: 'city', in: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'] }), n, `${d}: one posting per record`);
    } finally {
      await cp.close();
    }
  }
  // The source survives its own kill too.
  const db = await open(location, { env: {}, envFile: false, valueEncoding: 'json' });
  t.deepEqual((await db.verify()).problems, []);
  await db.close();
  t.log(`${done.length} checkpoints reported, ${dirs.length} directories checked`);
});
