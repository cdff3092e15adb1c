import test from 'ava';

import { BatchOperation } from '../ts/index';
import { expectCode, fresh } from './helpers';

test('array batch applies puts and dels in order', async (t) => {
  const db = await fresh();
  await db.put('gone', 'x');
  await db.batch([
    { type: 'put', key: 'a', value: '1' },
    { type: 'put', key: 'b', value: '2' },
    { type: 'del', key: 'gone' },
    { type: 'put', key: 'a', value: '3' },
  ]);
  t.deepEqual(await db.getMany(['a', 'b', 'gone']), ['3', '2', undefined]);
  await db.batch([]);
  await db.close();
});

test('chained batch: put, del, clear, write, length', async (t) => {
  const db = await fresh();
  await db.put('old', '0');
  const b = db.batch().put('x', '1').put('y', '2').del('old');
  t.is(b.length, 3);
  await b.write({ sync: true });
  t.deepEqual(await db.getMany(['x', 'y', 'old']), ['1', '2', undefined]);

  const c = db.batch().put('z', '9').clear().put('w', '8');
  t.is(c.length, 1);
  await c.write();
  t.is(await db.get('z'), undefined);
  t.is(await db.get('w'), '8');
  await expectCode(() => c.write(), 'STRATA_INVALID_ARGUMENT');
  await db.close();
});

test('chained batch close discards', async (t) => {
  const db = await fresh();
  const b = db.batch().put('never', '1');
  await b.close();
  await b.close();
  t.throws(() => b.put('a', 'b'));
  t.is(await db.get('never'), undefined);
  await db.close();
});

test('a batch is atomic for readers: snapshots see all or nothing', async (t) => {
  const db = await fresh();
  const ops: BatchOperation[] = [];
  for (let i = 0; i < 500; i++) ops.push({ type: 'put', key: `k${String(i).padStart(4, '0')}`, value: String(i) });
  const before = db.snapshot();
  const write = db.batch(ops);
  const during = db.snapshot();
  await write;
  const seen = (await db.keys({ snapshot: during }).all()).length;
  t.true(seen === 0 || seen === 500);
  t.is((await db.keys({ snapshot: before }).all()).length, 0);
  t.is((await db.keys().all()).length, 500);
  await db.close();
});

test('invalid operations reject and nothing is written', async (t) => {
  const db = await fresh();
  const bad: unknown[][] = [
    [{ type: 'put', key: 'ok', value: '1' }, { type: 'put', key: 'x', value: undefined }],
    [{ type: 'put', key: 'ok', value: '1' }, { type: 'put', key: 'x', value: null }],
    [{ type: 'put', key: 'ok', value: '1' }, { type: 'nope', key: 'x' }],
    [{ type: 'put', key: 'ok', value: '1' }, { type: 'del', key: 42 }],
    [{ type: 'put', key: 'ok', value: '1' }, { type: 'put', key: 'x'.repeat(65537), value: '1' }],
    [{ type: 'put', key: 'ok', value: '1' }, null],
  ];
  for (const ops of bad) {
    await expectCode(() => db.batch(ops as BatchOperation[]), 'STRATA_INVALID_ARGUMENT');
  }
  await expectCode(() => db.batch('nope' as unknown as BatchOperation[]), 'STRATA_INVALID_ARGUMENT');
  t.throws(() => db.batch().put(undefined as never, 'x'), { code: 'STRATA_INVALID_ARGUMENT' } as never);
  t.deepEqual(await db.keys().all(), []);
  await db.close();
});

test('largest allowed key is accepted', async (t) => {
  const db = await fresh();
  const key = 'k'.repeat(65536);
  await db.batch([{ type: 'put', key, value: 'big' }]);
  t.is(await db.get(key), 'big');
  await db.close();
});
