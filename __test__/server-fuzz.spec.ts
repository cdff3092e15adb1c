/**
 * Fuzzing the HTTP API from its own /openapi.json with schemathesis (PyPI; installed by
 * .ci/run), with a token: no 5xx, every answer matches its documented status, content type,
 * headers and schema, and no route but /health answers without the token (ignored_auth).
 * A quick run here; STRATA_TEST_FUZZ_EXAMPLES=200 for a longer one.
 *
 * Not checked: positive_data_acceptance (a schema-valid value can still be refused by the
 * instance's codec, e.g. a BSON field name with a NUL byte, which JSON Schema cannot express)
 * and unsupported_method (an undeclared method is a JSON 404, not a 405).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import test from 'ava';

import { serve } from '../ts/server/serve';
import { tmpPath } from './helpers';
import { writeConfig } from './fixtures/server';

const EXAMPLES = Number(process.env.STRATA_TEST_FUZZ_EXAMPLES ?? 8);
const CHECKS = 'not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth';

/** The command that runs schemathesis: its script, or `python3 -m schemathesis.cli` (a pip install whose scripts are not on PATH). */
function schemathesis(): string[] | undefined {
  for (const cmd of [['schemathesis'], ['st'], ['python3', '-m', 'schemathesis.cli']]) {
    if (spawnSync(cmd[0] as string, [...cmd.slice(1), '--version'], { stdio: 'ignore' }).status === 0) return cmd;
  }
  return undefined;
}

test('schemathesis finds no 5xx and no answer off its schema', async (t) => {
  t.timeout(10 * 60_000);
  const cmd = schemathesis();
  if (cmd === undefined) {
    if (process.env.CI || process.env.STRATA_TEST_REQUIRE_TOOLS) t.fail('schemathesis is not installed (.ci/run installs it with pip)');
    else t.pass('schemathesis is not installed: skipped (pip install schemathesis)');
    return;
  }
  const file = writeConfig();
  const s = await serve({ config: file, port: 0, token: 'fuzz-token', logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  t.teardown(() => s.close());
  const args = [...cmd.slice(1), 'run', `${s.url}/openapi.json`, '--header', 'Authorization: Bearer fuzz-token', '--max-examples', String(EXAMPLES), '--checks', CHECKS, '--no-color'];
  if (process.env.STRATA_TEST_SEED) args.push('--seed', process.env.STRATA_TEST_SEED);
  const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
    const cwd = tmpPath('schemathesis'); // its cache (.schemathesis/) goes there, not into the repository
    fs.mkdirSync(cwd, { recursive: true });
    const child = spawn(cmd[0] as string, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('close', (code) => resolve({ code, text }));
  });
  const summary = out.text.split('\n').filter((l) => /generated|passed|failures|Seed/.test(l));
  t.log(summary.join('\n'));
  t.is(out.code, 0, out.text.slice(-6000));
});
