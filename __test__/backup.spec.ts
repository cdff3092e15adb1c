/**
 * Backups and restores: incremental backup directories (shared SSTables), single archives,
 * progress, checksums checked before anything is restored, damage found by verifyBackup and
 * refused by restore (target untouched), purge, and every bad input a typed error.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

import test from 'ava';

import { ErrorCodes, StrataError, listBackups, open, purgeOldBackups, restore, verifyBackup } from '../ts/index';
import { backupFixtureRecords } from './fixtures/make-backup-fixture';
import type { BackupProgress, Db, IndexDefinition } from '../ts/index';
import { expectCode, fresh, mulberry32, tmpPath } from './helpers';

type Doc = { city: string; n: number };
const CITY: IndexDefinition = { name: 'city', type: 'equality', extractor: { kind: 'json_path', path: '$.city' } };

async function fill(db: Db<string, Doc>, from: number, count: number, city = (i: number) => `c${i % 5}`): Promise<void> {
  for (let i = from; i < from + count; i += 500) {
    const n = Math.min(500, from + count - i);
    await db.batch(Array.from({ length: n }, (_, j) => ({ type: 'put' as const, key: `k${String(i + j).padStart(6, '0')}`, value: { city: city(i + j), n: i + j } })));
  }
}

async function contents(db: Db<string, Doc>): Promise<[string, Doc][]> {
  return db.iterator().all();
}

async function openDoc(dir: string): Promise<Db<string, Doc>> {
  return open<string, Doc>(dir, { env: {}, envFile: false, valueEncoding: 'json' });
}

async function checkRestored(t: import('ava').ExecutionContext, dir: string, want: [string, Doc][]): Promise<void> {
  const db = await openDoc(dir);
  try {
    t.deepEqual(await contents(db), want);
    t.deepEqual((await db.verify()).problems, []);
    const byCity = want.filter(([, v]) => v.city === 'c1').length;
    t.is(await db.count({ index: 'city', eq: 'c1' }), byCity, 'the index came along');
  } finally {
    await db.close();
  }
}

test('incremental backup directory: later backups share unchanged SSTables, each restores exactly', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: [CITY] });
  await fill(db, 0, 5000);
  await db.flush();
  const first = await contents(db);
  const target = path.join(tmpPath(), 'backups');
  const events: BackupProgress[] = [];
  const b1 = await db.backup(target, { onProgress: (p) => events.push(p) });
  t.is(b1.id, 1);
  t.is(b1.location, target);
  t.true(b1.bytesWritten >= b1.bytes);
  t.deepEqual([...new Set(events.map((e) => e.phase))], ['checkpoint', 'hash', 'copy']);
  const lastCopy = events.filter((e) => e.phase === 'copy').at(-1);
  t.is(lastCopy?.files, lastCopy?.totalFiles);
  t.is(lastCopy?.bytes, lastCopy?.totalBytes);

  await fill(db, 5000, 200, () => 'c1');
  await db.del('k000003');
  const second = await contents(db);
  const b2 = await db.backup(target);
  t.is(b2.id, 2);
  t.true(b2.bytesWritten < b2.bytes / 2, `the second backup wrote ${b2.bytesWritten} of ${b2.bytes} bytes`);
  t.deepEqual((await listBackups(target)).map((b) => [b.id, b.sequence]), [
    [1, b1.sequence],
    [2, b2.sequence],
  ]);
  t.deepEqual(await verifyBackup(target), { ok: true, problems: [] });
  await db.close();

  const r2 = await restore(target, path.join(tmpPath(), 'r2'));
  t.is(r2.id, 2);
  await checkRestored(t, r2.location, second);
  const r1 = await restore(target, path.join(tmpPath(), 'r1'), { id: 1 });
  await checkRestored(t, r1.location, first);
});

test('archive backup taken while writes go on: restores consistent, with every write acknowledged before it', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: [CITY], memtableSize: 64 * 1024 });
  await fill(db, 0, 3000);
  const before = new Map((await contents(db)).map(([k, v]) => [k, v.n]));
  const during = Array.from({ length: 300 }, (_, i) => db.put(`k${String(i).padStart(6, '0')}`, { city: 'c1', n: 100_000 + i }));
  const file = path.join(tmpPath(), 'db.tar.gz');
  const b = await db.backup(file);
  await Promise.all(during);
  await db.close();
  t.true(fs.statSync(file).size > 0);
  t.false(fs.existsSync(`${file}.partial`));
  t.is(b.location, file);
  t.deepEqual((await listBackups(file)).map((x) => x.sequence), [b.sequence]);
  t.true((await verifyBackup(file)).ok);
  const r = await restore(file, path.join(tmpPath(), 'restored'));
  const got = await openDoc(r.location);
  try {
    t.deepEqual((await got.verify()).problems, []);
    const rows = await contents(got);
    t.is(rows.length, before.size);
    for (const [k, v] of rows) t.true(v.n === before.get(k) || v.n === 100_000 + Number(k.slice(1)), `${k}: ${v.n}`);
    t.is(await got.count({ index: 'city', eq: 'c1' }), rows.filter(([, v]) => v.city === 'c1').length);
  } finally {
    await got.close();
  }
});

test('a damaged backup is found by verifyBackup and refused by restore, which leaves the target untouched', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: [CITY] });
  await fill(db, 0, 2000);
  const dirTarget = path.join(tmpPath(), 'backups');
  const file = path.join(tmpPath(), 'one.tgz');
  await db.backup(dirTarget);
  await db.backup(file);
  await db.close();

  // Flip one byte in the middle of a shared SSTable.
  const shared = path.join(dirTarget, 'shared');
  const sst = path.join(shared, (fs.readdirSync(shared)[0] as string));
  const bytes = fs.readFileSync(sst);
  bytes[bytes.length >> 1] ^= 0x40;
  fs.writeFileSync(sst, bytes);
  const v = await verifyBackup(dirTarget);
  t.false(v.ok);
  t.true(v.problems.some((p) => p.message.includes('SHA-256')), JSON.stringify(v.problems));
  const into = path.join(tmpPath(), 'never');
  const e = await expectCode(() => restore(dirTarget, into), 'STRATA_CORRUPTION');
  t.regex(e.message, /damaged/);
  t.false(fs.existsSync(into));
  t.false(fs.existsSync(`${into}.restore-tmp`));

  // A truncated archive.
  const whole = fs.readFileSync(file);
  fs.writeFileSync(file, whole.subarray(0, whole.length >> 1));
  await expectCode(() => restore(file, into), 'STRATA_CORRUPTION');
  t.false(fs.existsSync(into));
  t.false((await verifyBackup(file)).ok);
});

test('restore refuses a non-empty target unless forced; purge keeps the newest and frees what only old ones used', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: [CITY] });
  const target = path.join(tmpPath(), 'backups');
  await fill(db, 0, 1000);
  await db.backup(target);
  await fill(db, 0, 1000, () => 'c1'); // rewrites every record
  await db.compactRange();
  await db.backup(target);
  const last = await contents(db);
  await db.close();

  const busy = tmpPath('busy');
  fs.mkdirSync(busy, { recursive: true });
  fs.writeFileSync(path.join(busy, 'mine.txt'), 'keep');
  await expectCode(() => restore(target, busy), 'STRATA_EXISTS');
  t.deepEqual(fs.readdirSync(busy), ['mine.txt']);
  await restore(target, busy, { force: true });
  t.false(fs.existsSync(path.join(busy, 'mine.txt')));
  await checkRestored(t, busy, last);

  const purged = await purgeOldBackups(target, 1);
  t.deepEqual(purged.removed, [1]);
  t.true(purged.bytesFreed > 0);
  t.deepEqual((await listBackups(target)).map((b) => b.id), [2]);
  t.deepEqual(await verifyBackup(target), { ok: true, problems: [] });
  const again = await restore(target, path.join(tmpPath(), 'again'));
  await checkRestored(t, again.location, last);
  await expectCode(() => restore(target, path.join(tmpPath(), 'x'), { id: 1 }), 'STRATA_NOT_FOUND');
});

test('bad backup and restore input: typed errors, nothing written', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json' });
  await db.put('a', { city: 'c', n: 1 });
  await expectCode(() => db.backup(''), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.backup(path.join(db.location, 'inside')), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => db.backup(path.join(tmpPath(), 'b'), { onProgress: 5 as unknown as () => void }), 'STRATA_INVALID_ARGUMENT');
  const stranger = tmpPath('stranger');
  fs.mkdirSync(stranger, { recursive: true });
  fs.writeFileSync(path.join(stranger, 'x'), 'y');
  await expectCode(() => db.backup(stranger), 'STRATA_INVALID_ARGUMENT');
  t.deepEqual(fs.readdirSync(stranger), ['x']);
  const file = path.join(tmpPath(), 'a.tar.gz');
  await db.backup(file);
  await expectCode(() => db.backup(file), 'STRATA_EXISTS');
  await db.close();
  t.deepEqual(fs.readdirSync(path.dirname(db.location)).filter((n) => n.includes('.backup-tmp')), [], 'no checkpoint left behind');
  await expectCode(() => restore(path.join(tmpPath(), 'nothing'), path.join(tmpPath(), 'x')), 'STRATA_NOT_FOUND');
  await expectCode(() => listBackups(stranger), 'STRATA_NOT_FOUND');
  await expectCode(() => purgeOldBackups(stranger, -1), 'STRATA_INVALID_ARGUMENT');
  await expectCode(() => restore('', 'x'), 'STRATA_INVALID_ARGUMENT');
});

test('backups of one database run one at a time: concurrent calls all succeed', async (t) => {
  const db = await fresh<string, Doc>({ valueEncoding: 'json' });
  await fill(db, 0, 500);
  const root = tmpPath();
  const [a, b, c] = await Promise.all([db.backup(path.join(root, 'dir')), db.backup(path.join(root, 'a.tgz')), db.backup(path.join(root, 'dir'))]);
  t.deepEqual([a.id, b.id, c.id], [1, 1, 2]);
  t.true((await verifyBackup(path.join(root, 'dir'))).ok);
  await db.close();
});

const FIXTURE = path.join(__dirname, 'fixtures', 'format', 'backup-v1');

test('format fixture backup-v1: both backups of the directory and the archive restore exactly', async (t) => {
  t.deepEqual((await listBackups(path.join(FIXTURE, 'dir'))).map((b) => b.id), [1, 2]);
  t.true((await verifyBackup(path.join(FIXTURE, 'dir'))).ok);
  await checkRestored(t, (await restore(path.join(FIXTURE, 'dir'), path.join(tmpPath(), 'a'), { id: 1 })).location, backupFixtureRecords(1));
  await checkRestored(t, (await restore(path.join(FIXTURE, 'dir'), path.join(tmpPath(), 'b'))).location, backupFixtureRecords(2));
  await checkRestored(t, (await restore(path.join(FIXTURE, 'one.tar.gz'), path.join(tmpPath(), 'c'))).location, backupFixtureRecords(2));
});

/** Runs `fn`; it must succeed or fail with a StrataError of a known code (never anything else). */
async function typed(t: import('ava').ExecutionContext, fn: () => Promise<unknown>, what: string): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (!(e instanceof StrataError)) t.fail(`${what}: threw ${String(e)}`);
    else t.true(ErrorCodes.includes(e.code), `${what}: ${e.code}`);
    return false;
  }
}

test('fuzz: damaged backup descriptions and archives give typed errors and never restore anything', async (t) => {
  t.timeout(2 * 60_000);
  const cases = Number(process.env.STRATA_TEST_BACKUP_FUZZ ?? 40);
  const seed = Number(process.env.STRATA_TEST_SEED ?? Date.now() % 1_000_000);
  t.log(`seed ${seed}, ${cases} cases (STRATA_TEST_SEED, STRATA_TEST_BACKUP_FUZZ)`);
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const meta = fs.readFileSync(path.join(FIXTURE, 'dir', 'meta', '2.json'), 'utf8');
  const archive = fs.readFileSync(path.join(FIXTURE, 'one.tar.gz'));
  const mutations: ((d: Record<string, unknown>) => void)[] = [
    (d) => (d.version = 2),
    (d) => (d.format = 'other'),
    (d) => (d.files = 'x'),
    (d) => ((d.files as Record<string, unknown>[])[int(3)]!.stored = '../../../etc/passwd'),
    (d) => ((d.files as Record<string, unknown>[])[int(3)]!.name = '../escape'),
    (d) => ((d.files as Record<string, unknown>[])[int(3)]!.size = -1),
    (d) => ((d.files as Record<string, unknown>[])[int(3)]!.size = 1e15),
    (d) => ((d.files as Record<string, unknown>[])[int(3)]!.sha256 = '0'.repeat(64)),
    (d) => (d.files as unknown[]).splice(int(3), 1),
    (d) => (d.id = 'two'),
    (d) => (d.sequence = null),
  ];
  let restored = 0;
  for (let i = 0; i < cases; i++) {
    const root = tmpPath();
    fs.mkdirSync(root, { recursive: true });
    const into = path.join(root, 'restored');
    if (i % 2 === 0) {
      const dir = path.join(root, 'dir');
      fs.cpSync(path.join(FIXTURE, 'dir'), dir, { recursive: true });
      let text: string;
      if (rnd() < 0.5) {
        const d = JSON.parse(meta) as Record<string, unknown>;
        (mutations[int(mutations.length)] as (d: Record<string, unknown>) => void)(d);
        text = JSON.stringify(d);
      } else {
        const b = Buffer.from(meta);
        for (let k = 0; k < 1 + int(4); k++) b[int(b.length)] = int(256);
        text = rnd() < 0.3 ? b.subarray(0, int(b.length)).toString('latin1') : b.toString('latin1');
      }
      fs.writeFileSync(path.join(dir, 'meta', '2.json'), text);
      await typed(t, () => listBackups(dir), 'listBackups');
      await typed(t, () => verifyBackup(dir), 'verifyBackup');
      const ok = await typed(t, () => restore(dir, into, { id: 2 }), 'restore');
      if (ok) {
        // Only a mutation that changes nothing that matters may restore, and then exactly.
        restored++;
        await checkRestored(t, into, backupFixtureRecords(2));
      } else t.false(fs.existsSync(into), 'a failed restore leaves no target');
      t.false(fs.existsSync(`${into}.restore-tmp`));
    } else {
      const b = Buffer.from(archive);
      const file = path.join(root, 'one.tar.gz');
      if (rnd() < 0.5) for (let k = 0; k < 1 + int(8); k++) b[int(b.length)] = int(256);
      fs.writeFileSync(file, rnd() < 0.5 ? b.subarray(0, int(b.length)) : b);
      await typed(t, () => listBackups(file), 'listBackups');
      await typed(t, () => verifyBackup(file), 'verifyBackup');
      const ok = await typed(t, () => restore(file, into), 'restore');
      if (ok) {
        restored++;
        await checkRestored(t, into, backupFixtureRecords(2));
      } else t.false(fs.existsSync(into));
    }
  }
  t.log(`${restored} of ${cases} damaged copies still restored (unchanged in what matters), exactly`);
});

test('kill -9 while backups are taken: every listed backup is complete and restores consistent', async (t) => {
  t.timeout(2 * 60_000);
  const root = tmpPath('bk');
  fs.mkdirSync(root, { recursive: true });
  const location = path.join(root, 'db');
  const writer = path.join(__dirname, 'fixtures', 'checkpoint-writer.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', writer, location, root, 'backup'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, signal) => resolve(signal)));
  const done: number[] = [];
  const target = 2 + Math.floor(Math.random() * 3);
  let killed = false;
  for await (const line of readline.createInterface({ input: child.stdout })) {
    if (line.startsWith('done ')) done.push(Number(line.split(' ')[1]));
    if (!killed && done.length >= target) {
      setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 40));
      killed = true;
    }
  }
  t.is(await exited, 'SIGKILL');
  const backups = path.join(root, 'backups');
  const listed = (await listBackups(backups)).map((b) => b.id);
  for (const id of done) t.true(listed.includes(id), `backup ${id} was reported done`);
  t.deepEqual(await verifyBackup(backups), { ok: true, problems: [] });
  for (const id of listed) {
    const r = await restore(backups, path.join(root, `r${id}`), { id });
    const db = await openDoc(r.location);
    try {
      t.deepEqual((await db.verify()).problems, []);
      const n = (await db.keys().all()).length;
      t.is(await db.count({ index: 'city', in: ['c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'] }), n);
    } finally {
      await db.close();
    }
  }
  // Files of a backup cut short are garbage that purge removes; the kept backups stay whole.
  await purgeOldBackups(backups, listed.length);
  t.true((await verifyBackup(backups)).ok);
  t.log(`${done.length} backups reported, ${listed.length} listed and restored`);
});

test('a backup under a write load restores exactly a prefix of the history (checked against a model)', async (t) => {
  // One writer, every operation a put made in order and unawaited: write i sets key
  // k(i mod 300) to { n: i }. The restored database must equal the model after exactly the
  // first j writes, j being one more than the largest n it holds — no write missing before
  // it, none after it — and j covers every write acknowledged before the backup began.
  const db = await fresh<string, Doc>({ valueEncoding: 'json', indexes: [CITY], memtableSize: 64 * 1024 });
  const key = (i: number): string => `k${String(i % 300).padStart(6, '0')}`;
  const model: Doc[] = [];
  const ops: Promise<void>[] = [];
  let i = 0;
  const writeSome = (n: number): void => {
    for (let end = i + n; i < end; i++) {
      const doc = { city: `c${i % 7}`, n: i };
      model.push(doc);
      ops.push(db.put(key(i), doc));
    }
  };
  writeSome(1000);
  await Promise.all(ops);
  const target = path.join(tmpPath(), 'backups');
  const pending = db.backup(target);
  const loop = (async () => {
    while (i < 20000) {
      writeSome(50);
      await new Promise((r) => setImmediate(r));
    }
  })();
  await pending;
  await loop;
  await Promise.all(ops);
  await db.close();
  const r = await restore(target, path.join(tmpPath(), 'r'));
  const got = await openDoc(r.location);
  try {
    const rows = await contents(got);
    const j = Math.max(...rows.map(([, v]) => v.n)) + 1;
    t.true(j >= 1000, 'every write acknowledged before the backup is in it');
    const want = new Map<string, Doc>();
    for (let w = 0; w < j; w++) want.set(key(w), model[w] as Doc);
    t.is(rows.length, want.size);
    const wrong = rows.filter(([k, v]) => want.get(k)?.n !== v.n);
    t.deepEqual(wrong.slice(0, 5), [], `${wrong.length} keys differ from the model after ${j} writes`);
    t.deepEqual((await got.verify()).problems, []);
    t.is(await got.count({ index: 'city', eq: 'c3' }), [...want.values()].filter((d) => d.city === 'c3').length);
    t.log(`the backup holds the first ${j} of ${model.length} writes`);
  } finally {
    await got.close();
  }
});
