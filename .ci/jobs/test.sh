#!/usr/bin/env bash
# CI job "test" (Linux, macOS, Windows x Node 20/22/24; Alpine for musl): a clean install
# (which builds the native core from source through `prepare`) and the quick tier.
# Runs here too: bash .ci/jobs/test.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
node --version
npm ci --no-audit --no-fund
npm ci --prefix bench --no-audit --no-fund
npm test
