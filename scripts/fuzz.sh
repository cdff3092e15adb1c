#!/usr/bin/env bash
# Coverage-guided fuzzing of strata-engine's decoders (T10, see docs/durability.md).
#
# Runs every cargo-fuzz target in crates/engine/fuzz for FUZZ_SECS seconds each (default 60),
# one after the other, starting from the committed corpus (crates/engine/fuzz/corpus/<target>)
# plus fresh seeds written by the engine's own writers (seed_corpus). New inputs go to
# crates/engine/fuzz/corpus-work/<target> (not committed). Crashes land in
# crates/engine/fuzz/artifacts/<target>/ and make the script exit non-zero.
#
#   FUZZ_SECS=60         seconds per target
#   FUZZ_TARGETS="..."   subset of targets (default: all six)
#   FUZZ_MINIMIZE=1      afterwards, minimise (cargo fuzz cmin) the work corpus into the
#                        committed corpus directory
#
# Needs cargo-fuzz (installed from crates.io if missing) and, on a stable toolchain,
# RUSTC_BOOTSTRAP=1 for the sanitizer flags cargo-fuzz passes (set here).
set -euo pipefail

FUZZ_SECS=${FUZZ_SECS:-60}
TARGETS=${FUZZ_TARGETS:-"wal_reader sst_open_scan block_decode manifest_decode sst_roundtrip batch_decode"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT/crates/engine/fuzz"
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

cargo run --quiet --release --bin seed_corpus -- corpus-raw
cargo fuzz build

mkdir -p logs
status=0
for t in $TARGETS; do
  mkdir -p "corpus/$t" "corpus-work/$t"
  cp -n "corpus/$t"/* "corpus-work/$t"/ 2>/dev/null || true
  echo "== $t: ${FUZZ_SECS}s"
  if ! cargo fuzz run "$t" "corpus-work/$t" "corpus-raw/$t" -- \
      -max_total_time="$FUZZ_SECS" -rss_limit_mb=2048 -timeout=10 -max_len=1048576 \
      -print_final_stats=1 >"logs/$t.log" 2>&1; then
    echo "!! $t failed; see crates/engine/fuzz/logs/$t.log and artifacts/$t/"
    status=1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "logs/$t.log" | sed "s/^/   $t /" || true
  if [ "${FUZZ_MINIMIZE:-0}" = 1 ]; then
    rm -rf "corpus/$t" && cp -r "corpus-work/$t" "corpus/$t"
    cargo fuzz cmin "$t" "corpus/$t" -- -rss_limit_mb=2048 -timeout=10 >"logs/$t.cmin.log" 2>&1
    echo "   $t minimized corpus: $(ls "corpus/$t" | wc -l) files, $(du -sh "corpus/$t" | cut -f1)"
  fi
done
exit $status
