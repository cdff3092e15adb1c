/**
 * Type tests of the public API (`npm test` compiles this file with `tsc`; nothing runs).
 * `expectTypeOf` fails compilation when a type differs; `@ts-expect-error` lines must not
 * compile, or `tsc` reports the unused directive.
 */
import { expectTypeOf } from 'expect-type';

import {
  Db,
  EncodingName,
  EntryIterator,
  ErrorCode,
  ItemIterator,
  IteratorOptions,
  ReadOptions,
  Snapshot,
  StrataError,
  open,
} from '../../ts/index';

async function strings(): Promise<void> {
  const db = await open('./db');
  expectTypeOf(db).toEqualTypeOf<Db<string, string>>();
  expectTypeOf(db.get('k')).toEqualTypeOf<Promise<string | undefined>>();
  expectTypeOf(db.getSync('k')).toEqualTypeOf<string | undefined>();
  expectTypeOf(db.getMany(['a'])).toEqualTypeOf<Promise<(string | undefined)[]>>();

  // The trap of issue 13: the assignment target must not decide what get() returns.
  // @ts-expect-error a string database's get() is not a number
  const n: number | undefined = await db.get('k');
  void n;
  // @ts-expect-error nor is getSync()'s
  const m: number | undefined = db.getSync('k');
  void m;

  // Iterators yield the database's key and value types.
  expectTypeOf(db.iterator()).toEqualTypeOf<EntryIterator<string, string>>();
  expectTypeOf(db.keys()).toEqualTypeOf<ItemIterator<string>>();
  expectTypeOf(db.values()).toEqualTypeOf<ItemIterator<string>>();
  for await (const [k, v] of db.iterator({ gte: 'a', limit: 10 })) {
    expectTypeOf(k).toEqualTypeOf<string>();
    expectTypeOf(v).toEqualTypeOf<string>();
  }
  expectTypeOf(await db.iterator().all()).toEqualTypeOf<[string, string][]>();
  expectTypeOf(await db.keys().nextv(10)).toEqualTypeOf<string[]>();
  // @ts-expect-error entries are [string, string], not numbers
  const wrong: [number, number][] = await db.iterator().all();
  void wrong;

  // Writes take the value type (or raw strings and bytes).
  await db.put('k', 'v');
  await db.put('k', new Uint8Array(1));
  // @ts-expect-error a number is not a string value
  await db.put('k', 42);
  // @ts-expect-error sync must be a boolean
  await db.put('k', 'v', { sync: 'yes' });

  // Snapshot options: a Snapshot, nothing else.
  const snap = db.snapshot();
  expectTypeOf(snap).toEqualTypeOf<Snapshot>();
  await db.get('k', { snapshot: snap });
  db.iterator({ snapshot: snap });
  // @ts-expect-error a snapshot is a Snapshot, not a sequence number
  await db.get('k', { snapshot: 12 });
  expectTypeOf<ReadOptions['snapshot']>().toEqualTypeOf<Snapshot | undefined>();
  expectTypeOf<IteratorOptions['snapshot']>().toEqualTypeOf<Snapshot | undefined>();
  snap.close();
  await db.close();
}

async function generics(): Promise<void> {
  interface User {
    name: string;
    age: number;
  }
  const users = await open<string, User>('./users', { valueEncoding: 'json' });
  expectTypeOf(users.get('u1')).toEqualTypeOf<Promise<User | undefined>>();
  const u = await users.get('u1');
  if (u !== undefined) expectTypeOf(u.age).toBeNumber();
  await users.put('u1', { name: 'Ann', age: 40 });
  // @ts-expect-error age is a number
  await users.put('u2', { name: 'Bob', age: 'forty' });
  for await (const [k, v] of users.iterator()) {
    expectTypeOf(k).toBeString();
    expectTypeOf(v).toEqualTypeOf<User>();
  }
  // A per-call encoding names its result type explicitly.
  expectTypeOf(users.get<Buffer>('u1', { valueEncoding: 'buffer' })).toEqualTypeOf<Promise<Buffer | undefined>>();
  expectTypeOf(users.iterator<string, Uint8Array>({ valueEncoding: 'view' })).toEqualTypeOf<EntryIterator<string, Uint8Array>>();

  const bytes = await open<Buffer, Buffer>('./bytes', { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  expectTypeOf(bytes.keys()).toEqualTypeOf<ItemIterator<Buffer>>();
  await users.close();
  await bytes.close();
}

function encodingsAndOptions(): void {
  expectTypeOf<EncodingName>().toEqualTypeOf<'utf8' | 'buffer' | 'view' | 'json' | 'bson'>();
  // @ts-expect-error not an encoding
  void open('./db', { valueEncoding: 'msgpack' });
  // @ts-expect-error unknown options are type errors too (and STRATA_INVALID_ARGUMENT at run time)
  void open('./db', { bogus: true });
  void open('./db', { readOnly: true, memtableSize: '64MiB', profile: 'read-heavy' });
  // @ts-expect-error not a profile
  void open('./db', { profile: 'fast' });
}

function errors(e: unknown): void {
  if (e instanceof StrataError) {
    expectTypeOf(e.code).toEqualTypeOf<ErrorCode>();
    expectTypeOf<'STRATA_READ_ONLY'>().toMatchTypeOf<ErrorCode>();
    // @ts-expect-error codes are a closed union
    const c: typeof e.code = 'STRATA_NOPE';
    void c;
  }
}

void strings;
void generics;
void encodingsAndOptions;
void errors;
