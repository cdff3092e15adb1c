#!/usr/bin/env bash
# Runs a command of this repository inside an Alpine (musl) container with Node and Rust:
#   bash .ci/jobs/in-alpine.sh bash .ci/jobs/build-native.sh linux-x64-musl
#   bash .ci/jobs/in-alpine.sh bash .ci/jobs/test.sh
# Used by the musl CI jobs (on x64 and arm64 runners alike: no JavaScript action runs inside
# the container), and on any machine with docker.
set -euo pipefail
cd "$(dirname "$0")/../.."
image="${ALPINE_NODE_IMAGE:-node:20-alpine}"
exec docker run --rm -v "$PWD:/repo" -w /repo "$image" sh -c \
  'apk add --no-cache bash git build-base rust cargo python3 >/dev/null && git config --global --add safe.directory /repo && "$@"' sh "$@"
