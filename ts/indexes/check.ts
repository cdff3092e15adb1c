/**
 * The index part of `db.verify()`: at one snapshot, every posting of every ready index must
 * point to a live record whose value yields that term, and every record in scope must have
 * a posting for each of its terms. The second half is a count: the postings are distinct
 * keys and all valid, so they are exactly the expected ones when there are as many of them
 * as the records' terms; only on a mismatch are the records walked again to name the
 * missing postings.
 */
import type { KvDb, VerifyProblem } from '../database';
import type { Snapshot } from '../snapshot';
import { indexRange, postingKey, postingPk, postingTerm } from './layout';
import type { LiveIndex } from './maintain';
import { printableKey } from '../encodings';
import type { IndexRegistry } from './registry';
import type { BindingRange } from '../../binding';
import { successor } from '../codec';

/** Problems reported per index at most (the count of the rest is reported). */
const MAX_PROBLEMS = 100;

function termsOf(ix: LiveIndex, key: Buffer, value: Buffer): Buffer[] | undefined {
  try {
    return ix.compiled.terms(key, value);
  } catch {
    return undefined;
  }
}

function scopeRange(ix: LiveIndex): BindingRange {
  const scope = ix.compiled.def.scope;
  if (scope === undefined) return {};
  const lo = Buffer.from(scope, 'utf8');
  const hi = successor(lo);
  return hi === undefined ? { gte: lo } : { gte: lo, lt: Buffer.from(hi) };
}

async function checkIndex(db: KvDb<unknown, unknown>, ix: LiveIndex, snapshot: Snapshot): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  let dropped = 0;
  const report = (message: string): void => {
    if (problems.length < MAX_PROBLEMS) problems.push({ code: 'STRATA_CORRUPTION', message: `index '${ix.name}': ${message}`, index: ix.name });
    else dropped++;
  };
  // 1. Every posting is valid.
  let valid = 0;
  const postings = db._rawIterator(indexRange(ix.id), snapshot);
  try {
    for (;;) {
      const batch = await postings.nextv(1000);
      if (batch.length === 0) break;
      const pks = batch.map(([k]) => Buffer.from(postingPk(k, ix.arity)));
      const values = await db._getManyRaw(pks, snapshot);
      batch.forEach(([k], i) => {
        const pk = pks[i] as Buffer;
        const v = values[i];
        if (v === null || v === undefined) return report(`a posting points to key ${printableKey(pk)}, which does not exist`);
        const term = postingTerm(k, ix.arity);
        const ts = termsOf(ix, pk, v);
        if (!ix.compiled.inScope(pk) || ts === undefined || !ts.some((t) => t.equals(term))) {
          return report(`a posting of key ${printableKey(pk)} has a term its value does not yield (stale posting)`);
        }
        valid++;
      });
    }
  } finally {
    await postings.close();
  }
  // 2. As many postings as the records' terms.
  let expected = 0;
  const records = db._rawIterator(scopeRange(ix), snapshot);
  try {
    for (;;) {
      const batch = await records.nextv(1000);
      if (batch.length === 0) break;
      for (const [k, v] of batch) if (ix.compiled.inScope(k)) expected += termsOf(ix, k, v)?.length ?? 0;
    }
  } finally {
    await records.close();
  }
  if (expected !== valid) {
    // Name the records whose postings are missing.
    const again = db._rawIterator(scopeRange(ix), snapshot);
    try {
      outer: for (;;) {
        const batch = await again.nextv(1000);
        if (batch.length === 0) break;
        for (const [k, v] of batch) {
          if (!ix.compiled.inScope(k)) continue;
          for (const t of termsOf(ix, k, v) ?? []) {
            const pkey = postingKey(ix.prefix, t, k);
            const found = await db._rawIterator({ system: true, gte: pkey, lte: pkey }, snapshot).all();
            if (found.length === 0) report(`key ${printableKey(k)} is missing a posting for one of its terms`);
            if (problems.length >= MAX_PROBLEMS) break outer;
          }
        }
      }
    } finally {
      await again.close();
    }
    if (problems.length === 0) report(`${expected - valid} posting(s) are missing`);
  }
  if (dropped > 0) problems.push({ code: 'STRATA_CORRUPTION', message: `index '${ix.name}': ${dropped} more problem(s) not listed`, index: ix.name });
  return problems;
}

/** Checks every ready index against the records at one snapshot. */
export async function checkIndexes(db: KvDb<unknown, unknown>, registry: IndexRegistry): Promise<VerifyProblem[]> {
  const snapshot = db.snapshot();
  try {
    const out: VerifyProblem[] = [];
    for (const name of registry.names()) {
      const slot = registry.get(name);
      if (slot === undefined || slot.record.state !== 'ready') continue;
      out.push(...(await checkIndex(db, slot.live, snapshot)));
    }
    return out;
  } finally {
    await snapshot.close();
  }
}
