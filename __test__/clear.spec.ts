import test from 'ava';

import { Db } from '../ts/index';
import { expectCode, fresh } from './helpers';

async function seeded(): Promise<Db> {
  const db = await fresh();
  await db.batch(['a', 'b', 'ba', 'bb', 'c', 'd'].map((k) => ({ type: 'put' as const, key: k, value: k })));
  return db;
}

test('clear everything', async (t) => {
  const db = await seeded();
  t.is(await db.clear(), undefined);
  t.deepEqual(await db.keys().all(), []);
  await db.close();
});

test('clear with bounds, prefix, reverse and limit', async (t) => {
  let db = await seeded();
  await db.clear({ gt: 'a', lte: 'bb' });
  t.deepEqual(await db.keys().all(), ['a', 'c', 'd']);
  await db.close();

  db = await seeded();
  await db.clear({ prefix: 'b' });
  t.deepEqual(await db.keys().all(), ['a', 'c', 'd']);
  await db.close();

  db = await seeded();
  await db.clear({ limit: 2 });
  t.deepEqual(await db.keys().all(), ['ba', 'bb', 'c', 'd']);
  await db.clear({ limit: 2, reverse: true });
  t.deepEqual(await db.keys().all(), ['ba', 'bb']);
  await db.clear({ gt: 'z', lt: 'a' });
  t.deepEqual(await db.keys().all(), ['ba', 'bb']);
  await db.clear({ sync: true });
  t.deepEqual(await db.keys().all(), []);
  await db.close();
});

test('clear is atomic for a snapshot taken before it', async (t) => {
  const db = await seeded();
  const snap = db.snapshot();
  await db.clear({ gte: 'b' });
  t.deepEqual(await db.keys({ snapshot: snap }).all(), ['a', 'b', 'ba', 'bb', 'c', 'd']);
  t.deepEqual(await db.keys().all(), ['a']);
  await snap.close();
  await db.close();
});

test('clear validates its range', async (t) => {
  const db = await seeded();
  await expectCode(() => db.clear({ gt: 'a', gte: 'b' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.clear({ prefix: 'a', lt: 'b' }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.clear({ limit: 1.5 }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.clear({ gt: 'a', bogus: 1 } as never), 'STRATA_INVALID_ARGUMENT');
  t.is((await db.keys().all()).length, 6);
  await db.close();
});
