/**
 * A background failure makes the database read-only: a compaction that meets a damaged block
 * fails with STRATA_CORRUPTION, later writes reject with STRATA_POISONED, `stats()` says why,
 * and reads of undamaged data keep working. Reopening clears the state.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import test from 'ava';

import { open } from '../ts/index';
import { expectCode, tmpPath } from './helpers';

test('a compaction over a damaged block poisons writes but not reads', async (t) => {
  const location = tmpPath();
  const opts = { compression: false, envFile: false as const, env: {} };
  const db = await open(location, opts);
  const value = 'v'.repeat(100);
  for (let i = 0; i < 5000; i++) await db.put(`k${String(i).padStart(5, '0')}`, value);
  await db.flush();
  await db.close();

  const sst = fs.readdirSync(location).filter((f) => f.endsWith('.sst'));
  t.is(sst.length, 1);
  const file = path.join(location, sst[0] as string);
  const bytes = fs.readFileSync(file);
  bytes[2000] = (bytes[2000] as number) ^ 0x01;
  fs.writeFileSync(file, bytes);

  const damaged = await open(location, opts);
  t.is((await damaged.stats()).readOnlyReason, undefined);
  await expectCode(() => damaged.compactRange(), 'STRATA_CORRUPTION');
  const stats = await damaged.stats();
  t.regex(stats.readOnlyReason ?? '', /corruption/i);
  await expectCode(() => damaged.put('new', 'x'), 'STRATA_POISONED');
  t.is(await damaged.get('k04999'), value, 'keys outside the damaged block stay readable');
  await damaged.close();
});
