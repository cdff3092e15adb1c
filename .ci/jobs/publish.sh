#!/usr/bin/env bash
# CI job "publish" (on a v* tag): every platform package from the build artifacts (already
# staged into npm/<platform>/), then the main package, all at the same version, with npm
# provenance. Without PUBLISH=1 it is a dry run (and runs here: bash .ci/jobs/publish.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(node -p "require('./package.json').version")"
if [ -n "${GITHUB_REF_NAME:-}" ] && [ "${GITHUB_REF_NAME}" != "v$version" ]; then
  echo "publish: tag $GITHUB_REF_NAME does not match package.json version $version" >&2
  exit 1
fi
node scripts/npm-packages.js check
flags=(--access public --ignore-scripts)
if [ "${PUBLISH:-0}" = "1" ]; then flags+=(--provenance); else flags+=(--dry-run); fi
platforms="$(node -p "require('./loader.js').SUPPORTED.join(' ')")"
for p in $platforms; do
  if [ ! -f "npm/$p/stratadb.$p.node" ]; then
    if [ "${PUBLISH:-0}" = "1" ]; then echo "publish: npm/$p/stratadb.$p.node is missing" >&2; exit 1; fi
    echo "publish (dry run): npm/$p has no binary here; skipped"
    continue
  fi
  (cd "npm/$p" && npm publish "${flags[@]}")
done
[ -f dist/index.js ] || npm run build:ts
# The main package with its optionalDependencies added to the packed manifest.
out="$(mktemp -d)"
tarball="$(node scripts/npm-packages.js pack "$out")"
npm publish "$tarball" "${flags[@]}"
