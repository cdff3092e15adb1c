/**
 * Lifecycle torture for StrataLevel, as native bindings in the level ecosystem need:
 * closing under load, iterators left to the garbage collector, use from worker threads
 * (each with its own instance; one location in two workers gives LEVEL_LOCKED), and process
 * exit with databases still open. The process never crashes.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import test from 'ava';

import { StrataLevel } from '../ts/index';
import { tmpPath } from './helpers';

const FIXTURES = path.join(__dirname, 'fixtures');

function run(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, out, err })));
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

test('close() while iterators are open and hundreds of operations are in flight', async (t) => {
  const db = new StrataLevel(tmpPath());
  await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: 'v'.repeat(50) })));

  const iterators = Array.from({ length: 20 }, (_, i) => db.iterator({ reverse: i % 2 === 1 }));
  for (const it of iterators.slice(0, 10)) await it.next();
  const reads = iterators.map((it, i) => (i % 2 === 0 ? it.all() : it.nextv(500)));

  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 300; i++) {
    const k = `k${String(i * 7).padStart(5, '0')}`;
    switch (i % 6) {
      case 0: ops.push(db.put(`new${i}`, 'x')); break;
      case 1: ops.push(db.get(k)); break;
      case 2: ops.push(db.getMany([k, `missing${i}`])); break;
      case 3: ops.push(db.batch([{ type: 'del', key: k }, { type: 'put', key: `b${i}`, value: 'y' }])); break;
      case 4: ops.push(db.has(k)); break;
      default: ops.push(db.keys({ gte: k, limit: 20 }).all());
    }
  }
  const closing = db.close();
  const settled = await Promise.allSettled([...ops, ...reads]);
  await closing;
  t.is(db.status, 'closed');

  // Operations accepted before close() finish; iterator reads either finish or end with
  // LEVEL_ITERATOR_NOT_OPEN. Nothing else, and no crash.
  const opResults = settled.slice(0, ops.length);
  t.deepEqual(opResults.filter((r) => r.status === 'rejected').map((r) => codeOf((r as PromiseRejectedResult).reason)), []);
  for (const r of settled.slice(ops.length)) {
    if (r.status === 'rejected') t.is(codeOf(r.reason), 'LEVEL_ITERATOR_NOT_OPEN');
  }
  await t.throwsAsync(() => db.get('k00001'), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  await t.throwsAsync(() => iterators[0]!.next(), { code: 'LEVEL_ITERATOR_NOT_OPEN' });

  // The directory lock was released: the database opens again with its data.
  const again = new StrataLevel(db.location);
  t.is(await again.get('new0'), 'x');
  await again.close();
});

test('close() racing with open() and with reads issued during opening', async (t) => {
  for (let round = 0; round < 20; round++) {
    const db = new StrataLevel(tmpPath());
    const reads = Array.from({ length: 20 }, (_, i) => db.get(`k${i}`));
    const it = db.iterator();
    const closing = db.close();
    const results = await Promise.allSettled([...reads, it.next(), closing]);
    for (const r of results) {
      if (r.status === 'rejected') t.true(/^LEVEL_/.test(codeOf(r.reason) ?? ''), String(r.reason));
    }
    t.is(db.status, 'closed');
  }
});

test('iterators left to the garbage collector; the process exits cleanly', async (t) => {
  const r = await run(['--expose-gc', '--import', 'tsx', path.join(FIXTURES, 'level-gc.ts'), path.dirname(tmpPath())]);
  t.is(r.signal, null, r.err);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /done/);
});

for (const mode of ['exit', 'natural']) {
  test(`process ${mode === 'exit' ? 'calls exit()' : 'ends on its own'} with databases, iterators and operations open`, async (t) => {
    const r = await run(['--import', 'tsx', path.join(FIXTURES, 'level-exit.ts'), path.dirname(tmpPath()), mode]);
    t.is(r.signal, null, r.err);
    t.is(r.code, 0, r.err);
    t.regex(r.out, /ready/);
  });
}

interface WorkerReply {
  ok: boolean;
  code?: string;
  causeCode?: string;
  strataCode?: string;
  entries?: number;
  error?: string;
}

function worker(data: object): { w: Worker; next: () => Promise<WorkerReply>; exited: Promise<number> } {
  // Workers load the TypeScript fixture through tsx's CommonJS hook.
  const file = path.join(FIXTURES, 'level-worker.ts');
  const w = new Worker(`require('tsx/cjs'); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
  const queue: WorkerReply[] = [];
  const waiting: ((m: WorkerReply) => void)[] = [];
  w.on('message', (m: WorkerReply) => {
    const resolve = waiting.shift();
    if (resolve) resolve(m);
    else queue.push(m);
  });
  const exited = new Promise<number>((resolve, reject) => {
    w.on('exit', resolve);
    w.on('error', reject);
  });
  const next = () => {
    const m = queue.shift();
    return m ? Promise.resolve(m) : new Promise<WorkerReply>((resolve) => waiting.push(resolve));
  };
  return { w, next, exited };
}

test('worker threads: each opens its own database; the addon loads in every thread', async (t) => {
  const workers = Array.from({ length: 4 }, () => worker({ location: tmpPath() }));
  for (const { next, exited } of workers) {
    t.like(await next(), { ok: true, entries: 300 });
    t.is(await exited, 0);
  }
});

test('worker threads: one location in two workers gives LEVEL_LOCKED in one, never a crash', async (t) => {
  const location = tmpPath();
  const a = worker({ location, hold: true });
  t.like(await a.next(), { ok: true, entries: 300 });
  const b = worker({ location });
  t.like(await b.next(), { ok: false, code: 'LEVEL_DATABASE_NOT_OPEN', causeCode: 'LEVEL_LOCKED', strataCode: 'STRATA_LOCKED' });
  t.is(await b.exited, 0);
  a.w.postMessage('close');
  t.like(await a.next(), { ok: true });
  t.is(await a.exited, 0);

  // Released by the worker: this thread can open it now.
  const db = new StrataLevel(location);
  t.is(await db.get('k1'), 'v1');
  await db.close();
});

test('worker threads: workers that end or are terminated with open databases do not crash', async (t) => {
  const leftAt = tmpPath();
  const left = worker({ location: leftAt, leave: true });
  t.like(await left.next(), { ok: true });
  t.is(await left.exited, 0);

  const heldAt = tmpPath();
  const held = worker({ location: heldAt, hold: true });
  t.like(await held.next(), { ok: true });
  t.is(await held.w.terminate(), 1);

  // Tearing down a worker's environment releases its databases (and their locks).
  for (const location of [leftAt, heldAt]) {
    const db = new StrataLevel(location);
    t.is(await db.get('k299'), 'v299');
    await db.close();
  }
});
