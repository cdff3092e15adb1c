/**
 * Randomized test against an in-memory model (a sorted Map): mixed put/del/batch/clear and
 * iteration with random bounds, reverse and limit, snapshots, and (in the persistence
 * variant) reopening midway. Seeded; set STRATA_TEST_SEED to replay a failure.
 */
import test, { ExecutionContext } from 'ava';

import { Db, RangeOptions, Snapshot } from '../ts/index';
import { fresh, tmpPath, mulberry32 } from './helpers';

type Model = Map<string, string>;

function inRange(k: string, r: RangeOptions): boolean {
  if (r.prefix !== undefined) return k.startsWith(r.prefix as string);
  if (r.gt !== undefined && !(k > (r.gt as string))) return false;
  if (r.gte !== undefined && !(k >= (r.gte as string))) return false;
  if (r.lt !== undefined && !(k < (r.lt as string))) return false;
  if (r.lte !== undefined && !(k <= (r.lte as string))) return false;
  return true;
}

function expected(model: Model, r: RangeOptions): [string, string][] {
  let out = [...model.entries()].filter(([k]) => inRange(k, r)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (r.reverse) out.reverse();
  if (r.limit !== undefined && r.limit >= 0) out = out.slice(0, r.limit);
  return out;
}

async function run(t: ExecutionContext, steps: number, reopen: boolean): Promise<void> {
  const seed = process.env.STRATA_TEST_SEED ? Number(process.env.STRATA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31);
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const key = () => Array.from({ length: 1 + int(3) }, () => 'abcdef'[int(6)]).join('');
  const value = () => `v${int(1000)}`;
  const range = (): RangeOptions => {
    const r: RangeOptions = {};
    if (rnd() < 0.15) r.prefix = key().slice(0, 1 + int(2));
    else {
      const lower = rnd();
      if (lower < 0.3) r.gt = key();
      else if (lower < 0.6) r.gte = key();
      const upper = rnd();
      if (upper < 0.3) r.lt = key();
      else if (upper < 0.6) r.lte = key();
    }
    if (rnd() < 0.4) r.reverse = true;
    if (rnd() < 0.3) r.limit = int(8);
    return r;
  };

  const location = tmpPath();
  let db: Db = await fresh({}, location);
  const model: Model = new Map();
  const snaps: { snap: Snapshot; model: Model }[] = [];
  const where = (step: number, what: string) => `seed ${seed}, step ${step}: ${what}`;
  try {
    for (let step = 0; step < steps; step++) {
      const p = rnd();
      if (p < 0.3) {
        const k = key();
        const v = value();
        await db.put(k, v);
        model.set(k, v);
      } else if (p < 0.4) {
        const k = key();
        await db.del(k);
        model.delete(k);
      } else if (p < 0.55) {
        const n = 1 + int(6);
        const ops = Array.from({ length: n }, () =>
          rnd() < 0.7 ? { type: 'put' as const, key: key(), value: value() } : { type: 'del' as const, key: key() },
        );
        if (rnd() < 0.5) await db.batch(ops);
        else {
          const b = db.batch();
          for (const op of ops) (op.type === 'put' ? b.put(op.key, op.value) : b.del(op.key));
          await b.write();
        }
        for (const op of ops) (op.type === 'put' ? model.set(op.key, op.value) : model.delete(op.key));
      } else if (p < 0.6) {
        const r = range();
        await db.clear(r);
        for (const [k] of expected(model, r)) model.delete(k);
      } else if (p < 0.8) {
        const r = range();
        const got = await db.iterator(r).all();
        t.deepEqual(got, expected(model, r), where(step, `iterator ${JSON.stringify(r)}`));
      } else if (p < 0.87) {
        const k = key();
        t.is(await db.get(k), model.get(k), where(step, `get ${k}`));
      } else if (p < 0.92) {
        if (snaps.length < 4) snaps.push({ snap: db.snapshot(), model: new Map(model) });
      } else if (p < 0.97) {
        const s = snaps.length > 0 ? snaps.splice(int(snaps.length), 1)[0] : undefined;
        if (s) {
          const r = range();
          t.deepEqual(await db.iterator({ ...r, snapshot: s.snap }).all(), expected(s.model, r), where(step, `snapshot iterator ${JSON.stringify(r)}`));
          const k = key();
          t.is(await db.get(k, { snapshot: s.snap }), s.model.get(k), where(step, `snapshot get ${k}`));
          await s.snap.close();
        }
      } else if (reopen) {
        await db.close();
        snaps.length = 0;
        db = await fresh({}, location);
        t.deepEqual(await db.iterator().all(), expected(model, {}), where(step, 'contents after reopen'));
      }
    }
    t.deepEqual(await db.iterator().all(), expected(model, {}), where(steps, 'final contents'));
  } catch (e) {
    t.log(`failing seed: ${seed} (replay with STRATA_TEST_SEED=${seed})`);
    throw e;
  } finally {
    await db.close();
  }
  if (!t.passed) t.log(`failing seed: ${seed} (replay with STRATA_TEST_SEED=${seed})`);
}

test('random operations match the model', async (t) => {
  await run(t, 1500, false);
});

test('random operations with reopen match the model', async (t) => {
  await run(t, 1500, true);
});
