#!/usr/bin/env bash
# CI job "build": builds the native binary of one platform package on a runner of that
# platform (no cross-compiling: native runners and an Alpine container for musl) and stages it
# into npm/<platform>/ for packing. Runs here too: bash .ci/jobs/build-native.sh linux-x64-gnu
set -euo pipefail
cd "$(dirname "$0")/../.."
platform="${1:?usage: build-native.sh <platform> (see loader.js SUPPORTED)}"
detected="$(node -p "require('./loader.js').platformName()")"
if [ "$detected" != "$platform" ]; then
  echo "build-native: this runner is $detected, not $platform" >&2
  exit 1
fi
npm ci --no-audit --no-fund --ignore-scripts
npm run build:native
node scripts/npm-packages.js stage "$platform"
node -e "const b = require('./binding.js'); console.log('built', '$platform', b.nativeVersion())"
