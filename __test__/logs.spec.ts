/**
 * Engine events as pino log lines (`open(dir, { logger })`): recovery at open, flushes,
 * compactions with their documented fields, nothing without a logger.
 */
import test from 'ava';
import pino from 'pino';

import { open } from '../ts/index';
import { expectCode, fresh, tmpPath } from './helpers';

interface Line {
  level: number;
  msg: string;
  event: string;
  location: string;
  at: string;
  durationMs: number;
  [k: string]: unknown;
}

function capture(): { logger: pino.Logger; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => lines.push(JSON.parse(s) as Line) });
  return { logger, lines };
}

test('recovery, flush and compaction produce pino lines with the documented fields', async (t) => {
  const { logger, lines } = capture();
  const location = tmpPath();
  const db = await fresh({ logger, memtableSize: 64 * 1024 }, location);
  const recovery = lines.filter((l) => l.event === 'recovery');
  t.is(recovery.length, 1, 'one recovery line at open');
  t.like(recovery[0], { level: 30, location, walFiles: 0, walRecords: 0, skipped: 0, orphansDeleted: 0 });

  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `a${i}`, value: 'x'.repeat(50) })));
  await db.flush();
  const flushes = lines.filter((l) => l.event === 'flush');
  t.is(flushes.length, 1);
  const f = flushes[0] as Line;
  const s = await db.stats();
  t.like(f, { level: 30, location, entries: 100, bytes: s.flushBytes });
  t.is(typeof f.file, 'number');
  t.is(typeof f.wal, 'number');
  t.true(f.durationMs >= 0);
  t.false(Number.isNaN(Date.parse(f.at)));
  t.regex(f.msg, /flushed memtable to table \d+ \(100 entries/);

  await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `a${i}`, value: 'y'.repeat(50) })));
  await db.compactRange();
  const compactions = lines.filter((l) => l.event === 'compaction');
  const after = await db.stats();
  t.is(compactions.length, after.compactions);
  t.true(compactions.length >= 1);
  for (const c of compactions) {
    t.true(Array.isArray(c.inputs) && (c.inputs as number[]).length > 0);
    t.true(Array.isArray(c.outputs) && (c.outputs as number[]).length > 0);
    t.is(typeof c.level, 'number');
    t.is(typeof c.outputLevel, 'number');
    t.is(typeof c.trivialMove, 'boolean');
    t.is(typeof c.reason, 'string');
    t.true(c.durationMs >= 0);
  }
  t.is(
    compactions.reduce((n, c) => n + (c.bytesWritten as number), 0),
    after.compactionBytesWritten,
  );
  t.is(
    compactions.reduce((n, c) => n + (c.bytesRead as number), 0),
    after.compactionBytesRead,
  );
  await db.close();
});

test('a reopen logs its recovery', async (t) => {
  const location = tmpPath();
  const first = await fresh({}, location);
  await first.put('k', 'v');
  await first.close();
  const { logger, lines } = capture();
  const again = await open(location, { env: {}, envFile: false, logger: logger.child({ app: 'test' }) });
  const r = lines.filter((l) => l.event === 'recovery');
  t.is(r.length, 1);
  t.like(r[0], { app: 'test', location, skipped: 0 });
  t.is(typeof r[0]?.walFiles, 'number');
  t.is(await again.get('k'), 'v');
  await again.close();
});

test('without a logger nothing is drained; a level name or silent is accepted; a bad logger is refused', async (t) => {
  const db = await fresh();
  await db.put('a', 'b');
  await db.flush();
  t.is(db._drainEvents(100).events.filter((e) => e.kind === 'flush').length, 1, 'events stay queued for whoever drains');
  await db.close();
  const quiet = await fresh({ logger: 'silent' });
  await quiet.close();
  await expectCode(() => fresh({ logger: 'loud' as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ logger: {} as never }), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => fresh({ eventIntervalMs: 0 }), 'STRATA_INVALID_ARGUMENT');
});

test('background flushes are logged by the timer, without an explicit flush', async (t) => {
  const { logger, lines } = capture();
  const db = await fresh({ logger, memtableSize: 64 * 1024, eventIntervalMs: 10 });
  // Enough to fill the memtable several times: the engine flushes in the background.
  for (let i = 0; i < 10; i++) {
    await db.batch(Array.from({ length: 200 }, (_, j) => ({ type: 'put' as const, key: `k${i}:${j}`, value: 'x'.repeat(200) })));
  }
  // Wait (bounded) for the timer to drain a flush; no assertion on how long it took.
  for (let tries = 0; tries < 500 && !lines.some((l) => l.event === 'flush'); tries++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  t.true(lines.some((l) => l.event === 'flush'));
  await db.close();
  const s = lines.filter((l) => l.event === 'flush').length;
  t.true(s >= 1);
});
