import test from 'ava';

import { expectCode, fresh } from './helpers';

test('close waits for 100 pending operations', async (t) => {
  const db = await fresh();
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 100; i++) {
    if (i % 3 === 0) ops.push(db.put(`k${i}`, String(i)));
    else if (i % 3 === 1) ops.push(db.get(`k${i - 1}`));
    else ops.push(db.batch([{ type: 'put', key: `b${i}`, value: 'x' }, { type: 'del', key: `k${i - 2}` }]));
  }
  const closing = db.close();
  t.is(db.status, 'closing');
  const results = await Promise.allSettled(ops);
  await closing;
  t.is(db.status, 'closed');
  t.true(results.every((r) => r.status === 'fulfilled'), 'every operation queued before close completed');
  await expectCode(() => db.get('k0'), 'STRATA_CLOSED');
});

test('operations started while closing reject with STRATA_CLOSED', async (t) => {
  const db = await fresh();
  const closing = db.close();
  await expectCode(() => db.put('late', '1'), 'STRATA_CLOSED');
  await closing;
  t.is(db.status, 'closed');
});

test('close is idempotent and concurrent calls share one close', async (t) => {
  const db = await fresh();
  const a = db.close();
  const b = db.close();
  t.is(a, b);
  await Promise.all([a, b]);
  await db.close();
  t.is(db.status, 'closed');
});

test('an iterator open at close ends cleanly', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 10 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: 'v' })));
  const it = db.iterator();
  t.deepEqual(await it.next(), ['k0', 'v']);
  const pending = it.next();
  await db.close();
  t.deepEqual(await pending, ['k1', 'v'], 'a read queued before close completes');
  t.true(it.closed);
  await expectCode(() => it.next(), 'STRATA_ITERATOR_NOT_OPEN');
  await expectCode(() => it.all(), 'STRATA_ITERATOR_NOT_OPEN');
  await it.close();
});

test('for await over an iterator stops with STRATA_ITERATOR_NOT_OPEN when the db closes mid-loop', async (t) => {
  const db = await fresh();
  await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: 'v' })));
  let seen = 0;
  let closing: Promise<void> | undefined;
  const err = await t.throwsAsync(async () => {
    for await (const _ of db.keys()) {
      seen++;
      if (seen === 5) closing = db.close();
    }
  });
  t.is((err as { code?: string }).code, 'STRATA_ITERATOR_NOT_OPEN');
  t.true(seen >= 5);
  await closing;
  t.is(db.status, 'closed');
});

test('many iterators and snapshots open at close', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  const its = Array.from({ length: 20 }, () => db.iterator());
  const snaps = Array.from({ length: 20 }, () => db.snapshot());
  await db.close();
  t.true(its.every((i) => i.closed));
  t.true(snaps.every((s) => s.closed));
});

test('work does not starve the event loop', async (t) => {
  const db = await fresh();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 2000; i++) writes.push(db.put(`k${i}`, 'v'));
  await Promise.all(writes);
  await db.keys().all();
  clearInterval(timer);
  t.true(ticks > 0);
  await db.close();
});
