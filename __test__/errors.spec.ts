import * as fs from 'node:fs';
import * as path from 'node:path';
import test from 'ava';

import * as binding from '../binding';
import { ErrorCodes, StrataError, open } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

const isolated = { env: {}, envFile: false as const };

test('StrataError carries code and cause', (t) => {
  const cause = new Error('inner');
  const e = new StrataError('STRATA_IO_ERROR', 'outer', { cause });
  t.true(e instanceof Error);
  t.is(e.code, 'STRATA_IO_ERROR');
  t.is(e.cause, cause);
  t.is(e.name, 'StrataError');
  t.is(ErrorCodes.length, 14);
});

test('native errors carry the stable code as a string property', async (t) => {
  const db = await binding.NativeDatabase.open(tmpPath(), {});
  const sync = t.throws(() => db.getSync(new Uint8Array(65537)));
  t.is((sync as Error & { code: string }).code, 'STRATA_INVALID_ARGUMENT');
  const asyncErr = await t.throwsAsync(db.write(Buffer.from([7, 1, 1]), false));
  t.is((asyncErr as Error & { code: string }).code, 'STRATA_INVALID_ARGUMENT');
  await db.close();
  const closed = await t.throwsAsync(db.get(Buffer.from('k')));
  t.is((closed as Error & { code: string }).code, 'STRATA_CLOSED');
});

test('a native panic becomes STRATA_INTERNAL, sync and async, and the process lives on', async (t) => {
  const sync = t.throws(() => binding.__testPanic(false));
  t.is((sync as Error & { code: string }).code, 'STRATA_INTERNAL');
  const asyncErr = await t.throwsAsync(Promise.resolve(binding.__testPanic(true)));
  t.is((asyncErr as Error & { code: string }).code, 'STRATA_INTERNAL');
  const db = await fresh();
  await db.put('still', 'alive');
  t.is(await db.get('still'), 'alive');
  await db.close();
});

test('invalid arguments of each kind reject (async) or throw (sync) with STRATA_INVALID_ARGUMENT', async (t) => {
  const db = await fresh();
  const bad = (v: unknown) => v as string;
  await expectCode(() => db.get(bad(42)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get(bad(undefined)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get(bad(null)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get(bad({})), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get('k'.repeat(65537)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', bad(undefined)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', bad(null)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', bad(123)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', 'v', { synk: true } as never), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', 'v', { sync: bad('yes') as unknown as boolean }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.put('k', 'v', { valueEncoding: bad('hex') as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.del(bad(undefined)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.getMany(bad('a') as unknown as string[]), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.getMany(['a', bad(7)]), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.has(bad(null)), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get('a', { snapshot: bad({}) as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.get('a', bad(5) as never), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.compactRange(bad(3)), 'STRATA_INVALID_ARGUMENT');
  // Sync methods throw.
  t.throws(() => db.getSync(bad(undefined)), { instanceOf: StrataError });
  t.throws(() => db.iterator({ limit: 'x' as unknown as number }), { instanceOf: StrataError });
  t.throws(() => db.iterator({ reverse: 'yes' as unknown as boolean }), { instanceOf: StrataError });
  t.throws(() => db.keys({ gt: bad(1) }), { instanceOf: StrataError });
  const it = db.keys();
  t.throws(() => it.seek(bad(undefined)), { instanceOf: StrataError });
  await expectCode(() => it.nextv(-1), 'STRATA_INVALID_ARGUMENT');
  await it.close();
  t.deepEqual(await db.keys().all(), []);
  await db.close();
});

test('json values that cannot be decoded report STRATA_INVALID_ARGUMENT with a cause', async (t) => {
  const db = await fresh();
  await db.put('k', 'not json');
  const e = await expectCode(() => db.get('k', { valueEncoding: 'json' }), 'STRATA_INVALID_ARGUMENT');
  t.true(e.cause instanceof SyntaxError);
  await db.close();
});

test('calls after close reject with STRATA_CLOSED', async (t) => {
  const db = await fresh();
  await db.close();
  await expectCode(() => db.get('a'), 'STRATA_CLOSED');
  await expectCode(() => db.put('a', 'b'), 'STRATA_CLOSED');
  await expectCode(() => db.del('a'), 'STRATA_CLOSED');
  await expectCode(() => db.batch([{ type: 'put', key: 'a', value: 'b' }]), 'STRATA_CLOSED');
  await expectCode(() => db.batch().put('a', 'b').write(), 'STRATA_CLOSED');
  await expectCode(() => db.getMany(['a']), 'STRATA_CLOSED');
  await expectCode(() => db.has('a'), 'STRATA_CLOSED');
  await expectCode(() => db.clear(), 'STRATA_CLOSED');
  await expectCode(() => db.flush(), 'STRATA_CLOSED');
  await expectCode(() => db.compactRange(), 'STRATA_CLOSED');
  await expectCode(() => db.stats(), 'STRATA_CLOSED');
  await expectCode(() => db.getSync('a'), 'STRATA_CLOSED');
  await expectCode(() => db.iterator(), 'STRATA_CLOSED');
  await expectCode(() => db.snapshot(), 'STRATA_CLOSED');
  await db.close();
  t.is(db.status, 'closed');
});

test('STRATA_NOT_FOUND when the database is missing and createIfMissing is false', async (t) => {
  const location = tmpPath();
  await expectCode(() => open(location, { ...isolated, createIfMissing: false }), 'STRATA_NOT_FOUND');
  t.false(fs.existsSync(location));
});

test('open validates location and options', async (t) => {
  await expectCode(() => open('' , isolated), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => open(42 as unknown as string, isolated), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => open(tmpPath(), { ...isolated, bogus: 1 } as never), 'STRATA_INVALID_ARGUMENT');
  t.pass();
});

test('STRATA_IO_ERROR when the location is a file', async (t) => {
  const location = tmpPath('file');
  fs.mkdirSync(path.dirname(location), { recursive: true });
  fs.writeFileSync(location, 'not a directory');
  const sub = path.join(location, 'db');
  await expectCode(() => open(sub, isolated), 'STRATA_IO_ERROR');
  t.pass();
});

test('STRATA_EXISTS when errorIfExists and the database exists', async (t) => {
  const location = tmpPath();
  const db = await open(location, isolated);
  await db.put('a', '1');
  await db.close();
  await expectCode(() => open(location, { ...isolated, errorIfExists: true }), 'STRATA_EXISTS');
  t.pass();
});

test('STRATA_LOCKED on a second open of the same directory', async (t) => {
  const location = tmpPath();
  const db = await open(location, isolated);
  try {
    await expectCode(() => open(location, isolated), 'STRATA_LOCKED');
  } finally {
    await db.close();
  }
  const again = await open(location, isolated);
  await again.close();
  t.pass();
});

test('iterator reads after close reject with STRATA_ITERATOR_NOT_OPEN', async (t) => {
  const db = await fresh();
  await db.put('a', '1');
  const it = db.iterator();
  await it.close();
  await expectCode(() => it.next(), 'STRATA_ITERATOR_NOT_OPEN');
  await expectCode(() => it.nextv(1), 'STRATA_ITERATOR_NOT_OPEN');
  t.throws(() => it.seek('a'), { instanceOf: StrataError });
  await db.close();
});
