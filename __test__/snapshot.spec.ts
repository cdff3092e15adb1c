import test from 'ava';

import { expectCode, fresh } from './helpers';

test('snapshot isolates get, getMany, has and iterators from later writes', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  await db.put('b', '2');
  const snap = db.snapshot();
  await db.put('a', 'changed');
  await db.del('b');
  await db.put('c', '3');
  t.is(await db.get('a', { snapshot: snap }), '1');
  t.is(db.getSync('a', { snapshot: snap }), '1');
  t.deepEqual(await db.getMany(['a', 'b', 'c'], { snapshot: snap }), ['1', '2', undefined]);
  t.true(await db.has('b', { snapshot: snap }));
  t.false(await db.has('c', { snapshot: snap }));
  t.deepEqual(await db.iterator({ snapshot: snap }).all(), [['a', '1'], ['b', '2']]);
  t.deepEqual(await db.keys({ snapshot: snap, reverse: true }).all(), ['b', 'a']);
  t.deepEqual(await db.iterator().all(), [['a', 'changed'], ['c', '3']]);
  await snap.close();
  await snap.close();
  t.true(snap.closed);
  await db.close();
});

test('a closed snapshot cannot be used', async (t) => {
  const db = await fresh();
  const snap = db.snapshot();
  await snap.close();
  await expectCode(() => db.get('a', { snapshot: snap }), 'STRATA_INVALID_ARGUMENT');
  t.throws(() => db.iterator({ snapshot: snap }), { message: /snapshot is closed/ });
  await db.close();
});

test('closing the database releases snapshots', async (t) => {
  const db = await fresh();
  const snap = db.snapshot();
  await db.close();
  t.true(snap.closed);
});
