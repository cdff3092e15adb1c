#!/usr/bin/env bash
# Packaging test: `npm install stratadb` works with no Rust toolchain, exactly as users get it.
#
#   1. packs the linux-x64-gnu platform package (@stratadb/linux-x64-gnu, holding the binary
#      built by `npm run build`) and the main package with `npm pack`;
#   2. publishes both to a throwaway verdaccio on 127.0.0.1 (installed into a temporary
#      directory from scripts/install-test/package-lock.json; @stratadb/* and stratadb are
#      served only from it, every other package is proxied from the npm registry);
#   3. installs `stratadb` into a fresh directory with cargo and rustc removed from PATH, so the
#      platform package must come through optionalDependencies;
#   4. runs a small program there (open, put, get, iterate, close), `npx strata --help` and
#      `npx strata --version`, and checks what the main tarball holds;
#   5. builds the binary again from the Rust sources the package ships (`npm explore stratadb --
#      npm run build-from-source`, cargo back on PATH) and runs the program on it alone;
#   6. runs `npm ci` in a copy of the git checkout with no cargo on PATH: it must stop with a
#      message saying what to install, not napi's "cargo metadata failed";
#   7. reports the tarball sizes.
#
# Needs: `npm run build` done (dist/ and stratadb.linux-x64-gnu.node). Run by .ci/run.
# Takes 2-3 minutes on 2 cores: ~40-70 s to pack, install verdaccio and the proxied
# dependencies and install stratadb; ~60 s compiling the engine and binding from the shipped
# sources (dependencies come from target/ when already built; STRATA_INSTALL_TEST_FROM_SOURCE=0
# skips it); ~40 s for npm ci in the cargo-less checkout copy.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PLATFORM=linux-x64-gnu
VERSION="$(node -p "require('$ROOT/package.json').version")"
BINARY="$ROOT/stratadb.$PLATFORM.node"

if [ "$(node -p "require('$ROOT/loader.js').platformName()")" != "$PLATFORM" ]; then
  echo "install-test: runs on $PLATFORM only (this is $(node -p "require('$ROOT/loader.js').platformName()")); skipped"
  exit 0
fi
[ -f "$BINARY" ] || { echo "install-test: $BINARY is missing: run npm run build first" >&2; exit 1; }
[ -f "$ROOT/dist/index.js" ] || { echo "install-test: dist/ is missing: run npm run build first" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/strata-install-test.XXXXXX")"
REGISTRY_PID=""
cleanup() {
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== install-test: packing (version $VERSION)"
mkdir -p "$WORK/pkg/platform" "$WORK/tarballs"
cp "$ROOT/npm/$PLATFORM/package.json" "$ROOT/npm/$PLATFORM/README.md" "$WORK/pkg/platform/"
cp "$BINARY" "$WORK/pkg/platform/stratadb.$PLATFORM.node"
(cd "$WORK/pkg/platform" && npm pack --silent --pack-destination "$WORK/tarballs" >/dev/null)
# The main package as published: package.json plus its optionalDependencies (scripts/npm-packages.js).
before="$(cksum < "$ROOT/package.json")"
node "$ROOT/scripts/npm-packages.js" pack "$WORK/tarballs" >/dev/null
[ "$(cksum < "$ROOT/package.json")" = "$before" ] || { echo "install-test: pack left package.json modified" >&2; exit 1; }
PLATFORM_TGZ="$WORK/tarballs/stratadb-$PLATFORM-$VERSION.tgz"
MAIN_TGZ="$WORK/tarballs/stratadb-$VERSION.tgz"
[ -f "$PLATFORM_TGZ" ] || PLATFORM_TGZ="$(ls "$WORK"/tarballs/stratadb-"$PLATFORM"-*.tgz)"

echo "== install-test: what the main tarball holds"
tar -tzf "$MAIN_TGZ" | sed 's|^package/||' | sort > "$WORK/main-files.txt"
# No TypeScript sources, tests, benchmarks, fuzzing, docs or binaries; the Rust sources of the
# binding and the engine ship only so that `npm run build-from-source` works.
bad="$(grep -vE '^scripts/build-from-source\.js$' "$WORK/main-files.txt" | grep -E '^(ts|__test__|bench|scripts|npm|docs|target|\.ci|\.github)/|^crates/engine/(tests|benches|fuzz|examples)/|\.map$|\.node$|(^|/)\.env$|tsconfig' || true)"
if [ -n "$bad" ]; then echo "install-test: the main tarball must not hold:" >&2; echo "$bad" >&2; exit 1; fi
for f in package.json README.md LICENSE CHANGELOG.md loader.js binding.js binding.d.ts dist/index.js dist/index.d.ts dist/cli/index.js \
  dist/server/console/index.js dist/server/console/public/index.html dist/server/console/public/console.js dist/server/console/public/console.css \
  scripts/build-from-source.js Cargo.toml Cargo.lock build.rs src/lib.rs crates/engine/Cargo.toml crates/engine/src/lib.rs; do
  grep -qx "$f" "$WORK/main-files.txt" || { echo "install-test: the main tarball lacks $f" >&2; exit 1; }
done
tar -xzOf "$MAIN_TGZ" package/package.json | node -e "
  const m = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const want = require('$ROOT/loader.js').SUPPORTED.map((p) => '@stratadb/' + p);
  const got = m.optionalDependencies || {};
  for (const n of want) if (got[n] !== m.version) { console.error('optionalDependencies: ' + n + ' must be exactly ' + m.version + ', is ' + got[n]); process.exit(1); }
  if (Object.keys(got).length !== want.length) { console.error('optionalDependencies: unexpected entries ' + Object.keys(got)); process.exit(1); }
  if (m.scripts && (m.scripts.install || m.scripts.postinstall || m.scripts.preinstall)) { console.error('the main package must have no install scripts'); process.exit(1); }
"
tar -tzf "$PLATFORM_TGZ" | grep -qx "package/stratadb.$PLATFORM.node" || { echo "install-test: the platform tarball lacks the binary" >&2; exit 1; }

echo "== install-test: starting verdaccio on 127.0.0.1"
mkdir -p "$WORK/registry"
cp "$ROOT/scripts/install-test/package.json" "$ROOT/scripts/install-test/package-lock.json" "$WORK/registry/"
(cd "$WORK/registry" && npm ci --silent --no-audit --no-fund --cache "$WORK/npm-cache" >/dev/null)
PORT="$(node -e "const s = require('net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); })")"
REGISTRY="http://127.0.0.1:$PORT/"
cat > "$WORK/registry/config.yaml" <<EOF
storage: $WORK/registry/storage
auth:
  htpasswd:
    file: $WORK/registry/htpasswd
    max_users: 10
uplinks:
  npmjs:
    url: https://registry.npmjs.org/
packages:
  '@stratadb/*':
    access: \$all
    publish: \$authenticated
  'stratadb':
    access: \$all
    publish: \$authenticated
  '**':
    access: \$all
    publish: \$authenticated
    proxy: npmjs
listen: 127.0.0.1:$PORT
log: { type: stdout, format: pretty, level: warn }
EOF
"$WORK/registry/node_modules/.bin/verdaccio" --config "$WORK/registry/config.yaml" > "$WORK/registry/log.txt" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 100); do
  if node -e "require('http').get('${REGISTRY}-/ping', (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"; then break; fi
  if ! kill -0 "$REGISTRY_PID" 2>/dev/null; then cat "$WORK/registry/log.txt" >&2; echo "install-test: verdaccio exited" >&2; exit 1; fi
  sleep 0.2
done
TOKEN="$(node -e "
  const body = JSON.stringify({ name: 'ci', password: 'install-test-only' });
  const req = require('http').request('${REGISTRY}-/user/org.couchdb.user:ci', { method: 'PUT', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (r) => {
    let d = ''; r.on('data', (c) => (d += c)); r.on('end', () => { const t = JSON.parse(d).token; if (!t) { console.error(d); process.exit(1); } console.log(t); });
  });
  req.on('error', (e) => { console.error(e.message); process.exit(1); });
  req.end(body);
")"
NPMRC="$WORK/npmrc"
printf 'registry=%s\n//127.0.0.1:%s/:_authToken=%s\n' "$REGISTRY" "$PORT" "$TOKEN" > "$NPMRC"

echo "== install-test: publishing to the local registry"
npm publish "$PLATFORM_TGZ" --userconfig "$NPMRC" --registry "$REGISTRY" --ignore-scripts --provenance=false --silent >/dev/null
npm publish "$MAIN_TGZ" --userconfig "$NPMRC" --registry "$REGISTRY" --ignore-scripts --provenance=false --silent >/dev/null

echo "== install-test: npm install stratadb with no cargo or rustc on PATH"
NOCARGO_PATH=""
IFS=: read -r -a dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then continue; fi
  NOCARGO_PATH="${NOCARGO_PATH:+$NOCARGO_PATH:}$d"
done
mkdir -p "$WORK/app"
cd "$WORK/app"
printf '{ "name": "app", "version": "1.0.0", "private": true }\n' > package.json
cp "$NPMRC" .npmrc
run_nocargo() { env -u CARGO_HOME -u RUSTUP_HOME -u CARGO PATH="$NOCARGO_PATH" npm_config_cache="$WORK/npm-cache" "$@"; }
if run_nocargo sh -c 'command -v cargo || command -v rustc'; then echo "install-test: cargo still on PATH" >&2; exit 1; fi
run_nocargo npm install "stratadb@$VERSION" --no-audit --no-fund --silent
[ -f "node_modules/@stratadb/$PLATFORM/stratadb.$PLATFORM.node" ] || { echo "install-test: @stratadb/$PLATFORM was not installed" >&2; exit 1; }
[ -f "node_modules/stratadb/stratadb.$PLATFORM.node" ] && { echo "install-test: a binary inside the main package" >&2; exit 1; }
for p in node_modules/stratadb-*; do [ -e "$p" ] && { echo "install-test: unscoped $p installed" >&2; exit 1; }; done

cat > app.js <<'EOF'
const { open } = require('stratadb');
const os = require('os');
const path = require('path');
const fs = require('fs');
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-app-'));
  const db = await open(path.join(dir, 'db'), { env: {}, envFile: false });
  await db.put('b', '2');
  await db.put('a', '1');
  await db.batch([{ type: 'put', key: 'c', value: '3' }]);
  if ((await db.get('a')) !== '1') throw new Error('get');
  const all = [];
  for await (const [k, v] of db.iterator()) all.push(k + '=' + v);
  if (all.join(',') !== 'a=1,b=2,c=3') throw new Error('iterate: ' + all.join(','));
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('app: open, put, get, iterate, close ok');
})().catch((e) => { console.error(e); process.exit(1); });
EOF
run_nocargo node app.js
printf '%s\n' "import { open, StrataError } from 'stratadb';" "if (typeof open !== 'function' || typeof StrataError !== 'function') throw new Error('ESM named exports');" "console.log('app: ESM import ok');" > app.mjs
run_nocargo node app.mjs
run_nocargo npx --no-install strata --help > help.txt
grep -q "verify \[options\] \[dir\]" help.txt || { echo "install-test: strata --help printed:" >&2; cat help.txt >&2; exit 1; }
[ "$(run_nocargo npx --no-install strata --version)" = "$VERSION" ] || { echo "install-test: strata --version" >&2; exit 1; }
echo "app: npx strata --help and --version ok"
cat > console.js <<'EOF'
// The web console's files (dist/ and uPlot) are found in the installed package.
const { serve } = require('stratadb/dist/server');
const os = require('os');
const path = require('path');
const fs = require('fs');
(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-console-'));
  fs.writeFileSync(path.join(dir, 'lsm.toml'), '[[instance]]\nname = "default"\ndata_dir = "./db"\n');
  const s = await serve({ config: path.join(dir, 'lsm.toml'), port: 0, logLevel: 'silent', env: {}, envFile: false, handleSignals: false });
  for (const f of ['/console', '/console/console.js', '/console/console.css', '/console/uPlot.js', '/console/uPlot.css']) {
    const r = await fetch(s.url + f);
    if (r.status !== 200 || (await r.text()).length === 0) throw new Error(f + ': ' + r.status);
  }
  await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log('app: strata serve serves /console from the installed package');
})().catch((e) => { console.error(e); process.exit(1); });
EOF
run_nocargo node console.js

echo "== install-test: npm run build-from-source in the installed package (cargo back on PATH)"
if [ "${STRATA_INSTALL_TEST_FROM_SOURCE:-1}" = "1" ]; then
  CARGO_TARGET_DIR="$ROOT/target" npm explore stratadb -- npm run build-from-source --silent
  [ -f "node_modules/stratadb/stratadb.$PLATFORM.node" ] || { echo "install-test: build-from-source wrote no binary" >&2; exit 1; }
  rm -rf "node_modules/@stratadb"   # the local build alone must serve now
  run_nocargo node app.js
  echo "app: runs on the binary built from the shipped sources"
else
  echo "skipped (STRATA_INSTALL_TEST_FROM_SOURCE=0)"
fi

echo "== install-test: npm install in a git checkout without cargo says what to install"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mkdir -p "$WORK/checkout"
  git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 tar cf -) | tar xf - -C "$WORK/checkout"
  if (cd "$WORK/checkout" && run_nocargo npm ci --no-audit --no-fund > "$WORK/checkout.log" 2>&1); then
    echo "install-test: npm ci in a checkout succeeded without cargo?" >&2; exit 1
  fi
  grep -q "needs Rust (cargo and rustc 1.89 or newer)" "$WORK/checkout.log" || { echo "install-test: no helpful message:" >&2; tail -20 "$WORK/checkout.log" >&2; exit 1; }
  if grep -q "cargo metadata" "$WORK/checkout.log"; then echo "install-test: napi's cargo metadata error leaked" >&2; exit 1; fi
  echo "checkout: npm ci stops with: $(grep -m1 'needs Rust' "$WORK/checkout.log")"
else
  echo "skipped (not a git checkout)"
fi

size() { node -p "require('fs').statSync('$1').size"; }
unpacked() { tar -tvzf "$1" | awk '{ s += $3 } END { print s }'; }
echo "== install-test: tarball sizes"
printf '  %-34s %9s bytes packed, %9s unpacked, %s files\n' "$(basename "$MAIN_TGZ")" "$(size "$MAIN_TGZ")" "$(unpacked "$MAIN_TGZ")" "$(wc -l < "$WORK/main-files.txt" | tr -d ' ')"
printf '  %-34s %9s bytes packed, %9s unpacked\n' "$(basename "$PLATFORM_TGZ")" "$(size "$PLATFORM_TGZ")" "$(unpacked "$PLATFORM_TGZ")"
echo "install-test: 1 passed, 0 failed"
