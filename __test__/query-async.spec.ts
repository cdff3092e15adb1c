/**
 * Query streams where reads switch between the calling thread and the thread pool at random
 * points of a query: the calling-thread budget of the event-loop turn (`ts/turns.ts`) is
 * spent down to a random remainder before each page, so some batches of postings, probes
 * and records come back synchronously and the next ones as promises, in the middle of a
 * merge, a leapfrog or a probed intersection. Every page is checked against a brute-force
 * filter of the documents. Posting lists are longer than one read batch, so a stream that
 * started a second read while its first was still in flight would lose keys.
 *
 * `STRATA_TEST_SEED` replays one seed.
 */
import test from 'ava';

import { IndexDefinition, Query, open } from '../ts/index';
import { FAST_STREAK, fastAllowed } from '../ts/turns';
import { mulberry32, tmpPath } from './helpers';

interface Doc {
  city: string;
  age: number;
  tags: string[];
  active: boolean;
  bio: string;
}

const CITIES = ['Porto', 'Paris', 'Pune', 'Lima', 'Oslo', 'Roma', 'Rara'];
const TAGS = ['a', 'b', 'c', 'd', 'e'];
const WORDS = ['sun', 'moon', 'river', 'stone', 'sky', 'tea', 'jazz', 'code'];

const INDEXES: IndexDefinition[] = [
  { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } },
  { name: 'age', type: 'range', extractor: { kind: 'json_path', path: '$.age' } },
  { name: 'tags', type: 'equality', extractor: { kind: 'json_path', path: '$.tags[*]' } },
  { name: 'active', type: 'equality', extractor: { kind: 'json_path', path: '$.active' } },
  { name: 'bio', type: 'text', extractor: { kind: 'json_path', path: '$.bio' } },
];

type Pred = (d: Doc) => boolean;

test('queries agree with a scan when reads switch between the calling thread and the pool mid-query', async (t) => {
  t.timeout(5 * 60_000);
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  t.log(`seed ${seed} (STRATA_TEST_SEED replays it)`);
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;

  const docs: [string, Doc][] = [];
  for (let i = 0; i < 5000; i++) {
    docs.push([
      `u:${String(i).padStart(5, '0')}`,
      {
        // Skewed cities: Porto on about a third, Rara on a few.
        city: rnd() < 0.3 ? 'Porto' : i % 211 === 0 ? 'Rara' : pick(CITIES.slice(1, 6)),
        age: 18 + int(60),
        tags: Array.from({ length: int(4) }, () => pick(TAGS)),
        active: rnd() < 0.6,
        bio: Array.from({ length: 1 + int(5) }, () => pick(WORDS)).join(' '),
      },
    ]);
  }
  const dir = tmpPath();
  const first = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES });
  for (let i = 0; i < docs.length; i += 500) await first.batch(docs.slice(i, i + 500).map(([key, value]) => ({ type: 'put' as const, key, value })));
  await first.close();
  // A small cache: some reads need the disk (the pool), others are served from memory.
  const db = await open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json', indexes: INDEXES, blockCacheSize: 256 * 1024 });

  const leaf = (): [Query, Pred] => {
    switch (int(5)) {
      case 0: {
        const c = rnd() < 0.5 ? 'Porto' : pick(CITIES);
        return [{ index: 'city', eq: c }, (d) => d.city === c];
      }
      case 1: {
        const lo = 18 + int(60);
        const hi = lo + int(12);
        return [{ index: 'age', gte: lo, lte: hi }, (d) => d.age >= lo && d.age <= hi];
      }
      case 2: {
        const g = pick(TAGS);
        return [{ index: 'tags', eq: g }, (d) => d.tags.includes(g)];
      }
      case 3: {
        const a = rnd() < 0.5;
        return [{ index: 'active', eq: a }, (d) => d.active === a];
      }
      default: {
        const w = pick(WORDS);
        return [{ index: 'bio', match: w }, (d) => d.bio.split(' ').includes(w)];
      }
    }
  };
  const query = (depth = 0): [Query, Pred] => {
    const r = rnd();
    if (depth >= 2 || r < 0.3) return leaf();
    if (r < 0.75) {
      const parts = Array.from({ length: 2 + int(2) }, () => query(depth + 1));
      const q: Query = { and: parts.map((p) => p[0]) };
      const preds = parts.map((p) => p[1]);
      if (rnd() < 0.4) {
        const [nq, np] = leaf();
        (q as { and: Query[] }).and.push({ not: nq });
        return [q, (d) => preds.every((p) => p(d)) && !np(d)];
      }
      return [q, (d) => preds.every((p) => p(d))];
    }
    const parts = Array.from({ length: 2 + int(2) }, () => query(depth + 1));
    return [{ or: parts.map((p) => p[0]) }, (d) => parts.some((p) => p[1](d))];
  };

  // An intersection driven by a merge of a few age terms (each longer than a first read
  // batch), the other side probed per candidate batch.
  const narrow = (): [Query, Pred] => {
    const lo = 18 + int(60);
    const hi = lo + int(3);
    const [oq, op] = rnd() < 0.5 ? leaf() : ([{ index: 'city', eq: 'Porto' }, (d: Doc) => d.city === 'Porto'] as [Query, Pred]);
    return [{ and: [{ index: 'age', gte: lo, lte: hi }, oq] }, (d) => d.age >= lo && d.age <= hi && op(d)];
  };

  let pages = 0;
  for (let n = 0; n < 200; n++) {
    const [q, match] = rnd() < 0.5 ? narrow() : query();
    const want = docs.filter(([, d]) => match(d)).map(([k]) => k);
    const limit = pick([3, 37, 100, 1000]);
    const got: string[] = [];
    let cursor: string | null = null;
    do {
      // Spend the turn's calling-thread budget down to a random remainder: the reads of this
      // page switch to the pool after that many, at a random point of the query.
      fastAllowed(Math.max(0, FAST_STREAK - int(12)));
      const r: Awaited<ReturnType<typeof db.query>> = await db.query(q, { limit, cursor, values: rnd() < 0.5 });
      pages++;
      for (const it of r.items) {
        got.push(it.key);
        if (it.value !== undefined && !match(it.value as Doc)) t.fail(`seed ${seed}: ${it.key} does not match ${JSON.stringify(q)}`);
      }
      cursor = r.cursor;
    } while (cursor !== null);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      const g = new Set(got);
      const w = new Set(want);
      t.fail(
        `seed ${seed}: ${JSON.stringify(q)} limit ${limit}: ${got.length} keys, want ${want.length}; ` +
          `missing ${JSON.stringify(want.filter((k) => !g.has(k)).slice(0, 5))}, extra ${JSON.stringify(got.filter((k) => !w.has(k)).slice(0, 5))}`,
      );
      break;
    }
    fastAllowed(Math.max(0, FAST_STREAK - int(12)));
    const c = await db.count(q);
    if (c !== want.length) t.fail(`seed ${seed}: count of ${JSON.stringify(q)} is ${c}, want ${want.length}`);
  }
  t.log(`${pages} pages checked`);
  t.pass();
  await db.close();
});
