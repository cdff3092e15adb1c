/**
 * Runs abstract-level's own compliance suite (`abstract-level/test`, on tape) against
 * `StrataLevel`, every test the manifest enables included. Each database the suite creates
 * gets a fresh temporary directory, removed at exit. Run it directly
 * (`node --import=tsx __test__/level-suite.ts`) or through `level-compliance.spec.ts`,
 * which fails `npm test` on any failed assertion and prints tape's pass/fail summary.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import suite = require('abstract-level/test');
import tape = require('tape');

import { StrataLevel } from '../ts/index';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-level-suite-'));
let n = 0;

process.on('exit', () => {
  process.chdir(os.tmpdir());
  fs.rmSync(root, { recursive: true, force: true });
});

// The suite checks the options databases receive, so the factory passes them unchanged;
// isolate the engine settings from the machine instead: no STRATA_* variables, no `.env`.
for (const k of Object.keys(process.env)) if (k.startsWith('STRATA_')) delete process.env[k];
process.chdir(root);

suite({
  test: tape,
  factory(options?: Record<string, unknown>) {
    return new StrataLevel(path.join(root, `db-${n++}`), options);
  },
});
