/// <reference lib="dom" />
/**
 * The web console (`/console`) in a real browser: Debian's Chromium driven by playwright-core,
 * against `serve()` on loopback. Clicks through every view and checks what the page shows
 * against the HTTP API: instances, the live dashboard, keys with prefix and paging, a value's
 * JSON, hex and base64, a query's result count and its plan, an index created, rebuilt and
 * dropped, a flag toggled (its version goes up; a stale toggle shows the 409), a backup run to
 * completion, user data that tries to inject HTML, and a server with a token. Screenshots go
 * to __test__/artifacts/console/ (gitignored).
 *
 * Skipped (with a message) where no Chromium is installed, unless STRATA_TEST_REQUIRE_TOOLS=1
 * (.ci/run installs it with apt and sets that): then it fails.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import test, { ExecutionContext } from 'ava';
import { chromium, Browser, Page } from 'playwright-core';

import { serve, RunningServer } from '../ts/server/serve';
import { SEEDS_TOML, writeConfig } from './fixtures/server';

const ARTIFACTS = path.join(__dirname, 'artifacts', 'console');
/** STRATA_TEST_CHROMIUM, when set, is the only browser tried. */
const CANDIDATES = process.env.STRATA_TEST_CHROMIUM ? [process.env.STRATA_TEST_CHROMIUM] : ['/usr/bin/chromium', '/usr/bin/chromium-browser'];
const CHROMIUM = CANDIDATES.find((p) => fs.existsSync(p));
const TOKEN = 'console-token';
const XSS = '<img src=x onerror="window.__xss=1">';

/** The API as a client with (or without) the token. */
function client(s: RunningServer, token?: string) {
  return async (method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(`${s.url}${url}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await r.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: r.status, body: parsed };
  };
}

function skipWithoutChromium(t: ExecutionContext): boolean {
  if (CHROMIUM !== undefined) return false;
  if (process.env.STRATA_TEST_REQUIRE_TOOLS) t.fail(`no Chromium at ${CANDIDATES.join(', ')} (.ci/run installs it: apt-get install chromium)`);
  else {
    const msg = `no Chromium installed (looked at ${CANDIDATES.join(', ')}): the console test is skipped (apt-get install chromium, or STRATA_TEST_CHROMIUM=<path>)`;
    t.log(msg);
    t.pass(msg);
  }
  return true;
}

let browser: Browser | undefined;
test.before(async () => {
  if (CHROMIUM === undefined) return;
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
});
test.after.always(async () => {
  await browser?.close();
});

/** A page, and the script errors and CSP violations it logs (checked at the end of each test). */
async function newPage(t: ExecutionContext): Promise<{ page: Page; problems: string[]; requests: string[] }> {
  const ctx = await (browser as Browser).newContext({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => ctx.close());
  const page = await ctx.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('request', (r) => requests.push(new URL(r.url()).pathname));
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => void d.accept());
  return { page, problems, requests };
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const texts = (page: Page, selector: string) => page.locator(selector).allTextContents();

test.serial('every view of the console against the API', async (t) => {
  t.timeout(90_000);
  if (skipWithoutChromium(t)) return;
  const file = writeConfig(`[server]\nbackup_dir = "./backups"\n${SEEDS_TOML}`);
  const s = await serve({ config: file, port: 0, logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  t.is(s.settings.backupDir, path.join(path.dirname(file), 'backups'), 'a relative backup_dir is under lsm.toml');
  const api = client(s);

  const cities = ['Paris', 'Lisboa', 'Oslo'];
  const batch = Array.from({ length: 25 }, (_, i) => ({ key: `u${String(i).padStart(2, '0')}`, value: { city: cities[i % 3], age: 20 + i } }));
  t.is((await api('POST', '/db/app/keys/batch', { items: batch })).status, 200);
  t.is((await api('POST', '/db/app/keys', { key: XSS, value: { note: XSS, '<b>': '</pre><script>window.__xss=2</script>' } })).status, 200);
  const rawBytes = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff, 0x3c, 0x62, 0x3e]);
  t.is((await api('POST', '/db/log/keys', { key: 'bin', value: rawBytes.toString('base64') })).status, 200);

  const { page, problems, requests } = await newPage(t);
  await page.goto(`${s.url}/console`);

  // Instances and health.
  await page.locator('#instances-table tbody tr').first().waitFor();
  const inst = (await api('GET', '/admin/instances')).body as { items: { name: string; codec: string; status: string }[] };
  t.deepEqual(await page.locator('#instances-table tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.instance)), inst.items.map((i) => i.name));
  for (const i of inst.items) {
    const cells = await texts(page, `#instances-table tr[data-instance="${i.name}"] td`);
    t.is(cells[1], i.codec);
    t.is(cells[3], i.status);
  }
  t.is(await page.textContent('#health'), 'ok');
  await shot(page, '1-instances');

  // Dashboard: after two samples with operations between them, ops/s and latency are numbers.
  // Compacted first, so reads go to SSTables through the block cache.
  t.is((await api('POST', '/admin/compact?instance=app')).status, 200);
  await page.selectOption('#instance', 'app');
  await page.click('[data-view="dashboard"]');
  const load = setInterval(() => void api('GET', '/db/app/keys/u01').catch(() => undefined), 20);
  try {
    await page.waitForFunction(() => /^\d/.test(document.getElementById('dash-latency')?.textContent ?? ''), null, { timeout: 15_000 });
    // Two more samples: the charts have a line.
    const seen = Number(await page.getAttribute('#view-dashboard', 'data-samples'));
    await page.waitForFunction((n) => Number(document.getElementById('view-dashboard')?.dataset.samples) >= n + 2, seen, { timeout: 15_000 });
  } finally {
    clearInterval(load);
  }
  t.regex((await page.textContent('#dash-ops')) ?? '', /^\d+(\.\d)?$/);
  t.true(Number(await page.textContent('#dash-ops')) > 0, 'operations were counted');
  const ratio = /^(\d+\.\d) %$/.exec((await page.textContent('#dash-cache')) ?? '');
  t.truthy(ratio, 'a hit ratio over block reads');
  t.true(Number(ratio?.[1]) >= 0 && Number(ratio?.[1]) <= 100);
  const stats = (await api('GET', '/db/app/stats')).body as { levels: { files: number }[]; compactions: number };
  t.is(await page.locator('#levels-table tbody tr').count(), stats.levels.length);
  t.deepEqual(await texts(page, '#levels-table tbody tr td:nth-child(2)'), stats.levels.map((l) => String(l.files)));
  t.true(stats.levels.some((l) => l.files > 0));
  t.regex((await page.textContent('#dash-compactions')) ?? '', new RegExp(`^${stats.compactions}`));
  t.is(await page.locator('#chart-ops canvas').count(), 1, 'a chart is drawn');
  await shot(page, '2-dashboard');

  // Keys: prefix search and paging, as the API pages them.
  await page.click('[data-view="keys"]');
  await page.fill('#keys-prefix', 'u');
  await page.fill('#keys-limit', '10');
  await page.click('#keys-form button[type="submit"]');
  const first = (await api('GET', '/db/app/keys?prefix=u&limit=10')).body as { items: string[]; cursor: string };
  await page.waitForFunction(() => document.getElementById('keys-page')?.textContent === 'page 1');
  t.deepEqual(await texts(page, '#keys-list button'), first.items);
  await page.click('#keys-next');
  await page.waitForFunction(() => document.getElementById('keys-page')?.textContent === 'page 2');
  const second = (await api('GET', `/db/app/keys?prefix=u&limit=10&cursor=${encodeURIComponent(first.cursor)}`)).body as { items: string[] };
  t.deepEqual(await texts(page, '#keys-list button'), second.items);
  await page.click('#keys-prev');
  await page.waitForFunction(() => document.getElementById('keys-page')?.textContent === 'page 1');
  t.deepEqual(await texts(page, '#keys-list button'), first.items);

  // A value: JSON pretty-printed.
  await page.click('#keys-list button[data-key="u04"]');
  await page.locator('#value-view').waitFor();
  const u04 = (await api('GET', '/db/app/keys/u04')).body as { value: unknown };
  t.deepEqual(JSON.parse((await page.textContent('#value-json')) ?? ''), u04.value);
  t.true(((await page.textContent('#value-json')) ?? '').includes('\n  '), 'pretty-printed');
  await shot(page, '3-keys');

  // User data that looks like HTML is shown as text.
  await page.fill('#keys-prefix', '<');
  await page.click('#keys-form button[type="submit"]');
  await page.waitForFunction((k) => Array.from(document.querySelectorAll('#keys-list button')).some((b) => b.textContent === k), XSS);
  await page.locator('#keys-list button').first().click();
  await page.waitForFunction(() => (document.getElementById('value-json')?.textContent ?? '').includes('onerror'));
  t.is(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no injected script ran');
  t.is(await page.locator('main img, main script, main b').count(), 0, 'no element came from the data');
  t.is(await page.textContent('#value-key'), XSS);
  await shot(page, '4-xss-as-text');

  // A raw value: hex and base64 of its bytes.
  await page.selectOption('#instance', 'log');
  await page.fill('#keys-prefix', 'b');
  await page.click('#keys-form button[type="submit"]');
  await page.click('#keys-list button[data-key="bin"]');
  await page.waitForFunction(() => (document.getElementById('value-key')?.textContent ?? '') === 'bin');
  const bin = (await api('GET', '/db/log/keys/bin')).body as { value: string };
  t.is(await page.textContent('#value-base64'), bin.value);
  t.is(await page.textContent('#value-hex'), '00 01 7f 80 fe ff 3c 62 3e');
  t.is(Buffer.from(((await page.textContent('#value-hex')) ?? '').replace(/ /g, ''), 'hex').toString('base64'), bin.value);
  await shot(page, '5-raw-value');

  // Query editor: the result count and the plan, as the API answers them.
  await page.selectOption('#instance', 'app');
  await page.click('[data-view="query"]');
  const query = { index: 'city', eq: 'Paris' };
  await page.fill('#query-text', JSON.stringify(query));
  await page.click('#query-run');
  const res = (await api('POST', '/db/app/query', { query, limit: 100 })).body as { items: { key: string }[] };
  await page.waitForFunction(() => /results?/.test(document.getElementById('query-summary')?.textContent ?? ''));
  t.is(await page.textContent('#query-summary'), `${res.items.length} results`);
  t.true(res.items.length > 0);
  t.deepEqual(await texts(page, '#query-results tbody tr td:first-child'), res.items.map((i) => i.key));
  await page.click('#query-count');
  await page.waitForFunction(() => (document.getElementById('query-summary')?.textContent ?? '').startsWith('count'));
  t.is(await page.textContent('#query-summary'), `count: ${(await api('POST', '/db/app/count', { query })).body.count}`);
  await page.click('#query-explain');
  await page.locator('#query-plan').waitFor();
  const plan = JSON.parse((await page.textContent('#query-plan')) ?? '{}') as Record<string, unknown>;
  const apiPlan = (await api('POST', '/db/app/explain', { query })).body as Record<string, unknown>;
  t.deepEqual(Object.keys(plan).sort(), Object.keys(apiPlan).sort());
  t.deepEqual(plan.plan ?? plan.index, apiPlan.plan ?? apiPlan.index);
  await page.fill('#query-text', '{ not json');
  await page.click('#query-run');
  await page.waitForFunction(() => !(document.getElementById('message') as HTMLElement).hidden);
  t.regex((await page.textContent('#message')) ?? '', /not JSON/);
  await shot(page, '6-query');

  // Index admin: create (with progress), rebuild, drop.
  await page.click('[data-view="indexes"]');
  await page.locator('#indexes-table tr[data-index="city"]').waitFor();
  await page.fill('#index-name', 'by_age2');
  await page.selectOption('#index-type', 'range');
  await page.fill('#index-extractor', JSON.stringify({ kind: 'bson_path', path: '$.age' }));
  await page.click('#index-form button[type="submit"]');
  await page.locator('#indexes-table tr[data-index="by_age2"]').waitFor();
  await page.waitForFunction(() => (document.getElementById('index-job')?.textContent ?? '').endsWith('done'));
  const listed = (await api('GET', '/db/app/indexes')).body as { items: { name: string; state: string; entries: number }[] };
  const made = listed.items.find((i) => i.name === 'by_age2');
  t.like(made, { state: 'ready' });
  const row = await texts(page, '#indexes-table tr[data-index="by_age2"] td');
  t.is(row[1], 'range');
  t.is(row[3], 'ready');
  t.is(row[4], String(made?.entries));
  t.deepEqual(
    (await api('GET', '/db/app/indexes')).body.items.map((i: { name: string }) => i.name),
    await page.locator('#indexes-table tbody tr').evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.index)),
  );
  await page.click('#indexes-table tr[data-index="by_age2"] button[data-action="rebuild"]');
  await page.waitForFunction(() => /^index-rebuild by_age2: done$/.test(document.getElementById('index-job')?.textContent ?? ''));
  const jobs = (await api('GET', '/jobs')).body as { items: { kind: string; target: string; state: string }[] };
  t.like(jobs.items[0], { kind: 'index-rebuild', target: 'by_age2', state: 'done' });
  await shot(page, '7-indexes');
  await page.click('#indexes-table tr[data-index="by_age2"] button[data-action="drop"]');
  await page.locator('#indexes-table tr[data-index="by_age2"]').waitFor({ state: 'detached' });
  t.false(((await api('GET', '/db/app/indexes')).body.items as { name: string }[]).some((i) => i.name === 'by_age2'));

  // Feature flags: toggle with the version; a stale one shows the 409.
  t.is((await api('POST', '/features/beta', { enabled: false, description: XSS })).status, 201);
  await page.click('[data-view="features"]');
  const beta = '#features-table tr[data-feature="beta"]';
  await page.locator(beta).waitFor();
  t.deepEqual((await texts(page, `${beta} td`)).slice(0, 4), ['beta', 'off', '1', XSS]);
  await page.click(`${beta} button[data-action="toggle"]`);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td:nth-child(3)`)?.textContent === '2', beta);
  t.like((await api('GET', '/features/beta')).body, { enabled: true, version: 2 });
  t.deepEqual((await texts(page, `${beta} td`)).slice(0, 4), ['beta', 'on', '2', XSS], 'the toggle keeps the description');
  t.is((await api('GET', '/features/beta')).body.description, XSS);
  // Someone else writes version 3; the page still holds version 2.
  t.is((await api('POST', '/features/beta', { enabled: false, version: 2, description: XSS })).status, 200);
  await page.click(`${beta} button[data-action="toggle"]`);
  await page.waitForFunction(() => /409/.test(document.getElementById('message')?.textContent ?? ''));
  t.regex((await page.textContent('#message')) ?? '', /409 STRATA_CONFLICT: .*at version 3/);
  await page.waitForFunction((sel) => document.querySelector(`${sel} td:nth-child(3)`)?.textContent === '3', beta);
  t.like((await api('GET', '/features/beta')).body, { enabled: false, version: 3 }, 'the stale toggle wrote nothing');
  await shot(page, '8-features');

  // Backup with progress; it appears in the list.
  await page.click('[data-view="backups"]');
  t.is(await page.locator('#backups-table tbody tr').count(), 0);
  await page.click('#backup-start');
  await page.waitForFunction(() => /^backup 1 done/.test(document.getElementById('backup-status')?.textContent ?? ''), null, { timeout: 20_000 });
  await page.locator('#backups-table tr[data-backup="1"]').waitFor();
  const backups = (await api('GET', '/backups?instance=app')).body as { items: { id: number; files: number; sequence: number }[] };
  t.is(backups.items.length, 1);
  const b = await texts(page, '#backups-table tr[data-backup="1"] td');
  t.is(b[2], String(backups.items[0]?.sequence));
  t.is(b[3], String(backups.items[0]?.files));
  t.is(await page.evaluate(() => (document.getElementById('backup-progress') as HTMLProgressElement).position), 1, 'the bar is full');
  t.true(fs.existsSync(path.join(path.dirname(file), 'backups', 'app', 'meta', '1.json')), 'written under backup_dir/<instance>');
  await shot(page, '9-backups');
  t.is(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no injected script ran, in any view');
  const followed = requests.filter((r) => r.startsWith('/jobs/'));
  t.is(followed.filter((r) => r.endsWith('/events')).length, 3, 'create, rebuild and backup followed as streams');
  t.deepEqual(followed.filter((r) => /^\/jobs\/[0-9a-f-]{36}$/.test(r)), [], 'never polled');
  t.true(requests.every((r) => !/^\/console\//.test(r) || /^\/console\/(console|uPlot)\.(js|css)$/.test(r)), 'only its own files');
  t.deepEqual(problems, [], 'no script errors and no CSP violations');
});

test.serial('a server with a token: the page loads, asks for the token and works with it', async (t) => {
  t.timeout(60_000);
  if (skipWithoutChromium(t)) return;
  const s = await serve({ config: writeConfig(), port: 0, token: TOKEN, logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  const anon = client(s);
  t.is((await anon('GET', '/stats_all')).status, 401, 'the API needs the token');
  t.is((await anon('GET', '/console/console.js')).status, 200, 'the console files do not');
  t.is((await anon('GET', '/console/nothing.js')).status, 404);
  t.is((await anon('POST', '/backups')).status, 401);
  t.is((await client(s, TOKEN)('POST', '/backups')).body.error.code, 'STRATA_NOT_CONFIGURED', 'no backup_dir: refused');

  const { page, problems } = await newPage(t);
  await page.goto(`${s.url}/console#instances`);
  await page.locator('#token-form').waitFor();
  t.regex((await page.textContent('#message')) ?? '', /401/);
  t.is(await page.locator('#instances-table tbody tr').count(), 0);
  await shot(page, '10-token-asked');
  await page.fill('#token-input', TOKEN);
  await page.click('#token-form button[type="submit"]');
  await page.locator('#instances-table tr[data-instance="app"]').waitFor();
  t.is(await page.evaluate(() => sessionStorage.getItem('strata.token')), TOKEN);
  t.is(await page.isHidden('#token-form'), true);
  await page.click('[data-view="backups"]');
  await page.waitForFunction(() => /STRATA_NOT_CONFIGURED/.test(document.getElementById('message')?.textContent ?? ''));
  t.regex((await page.textContent('#message')) ?? '', /409 STRATA_NOT_CONFIGURED: .*backup_dir/);
  await shot(page, '11-token-accepted');
  t.deepEqual(problems, [], 'no script errors and no CSP violations');
});
