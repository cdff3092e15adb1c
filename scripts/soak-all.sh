#!/usr/bin/env bash
# Soak tier (RELIABILITY.md T1-T13, docs/durability.md "Soak tier"): runs every soak test for
# STRATA_SOAK_SECS seconds each, STRATA_SOAK_JOBS at a time, one log per test, then prints a
# table: test, duration, exit status, summary line.
#
#   npm run test:soak                                   # every test, 1800 s each, 2 at a time
#   STRATA_SOAK_SECS=1800 STRATA_SOAK_JOBS=17 npm run test:soak   # all at once: ~35 min in all
#   STRATA_SOAK_TESTS="T5 T8 T9" STRATA_SOAK_SECS=20 npm run test:soak
#
# Environment:
#   STRATA_SOAK_SECS      seconds per test (default 1800)
#   STRATA_SOAK_JOBS      tests running at once (default 2; T10 counts one job per fuzz target)
#   STRATA_SOAK_LOGS      log directory (default target/soak): <test>.log, <test>.status
#   STRATA_SOAK_TESTS     subset, e.g. "T1 T8 T10" (default: all); T10-<target> picks one target
#   STRATA_SOAK_PROFILE   cargo profile of the Rust soaks (default soaktest, see below; or dev,
#                         release)
#   STRATA_SOAK_BUILD     0 skips the build step (default 1)
#   STRATA_TEST_SEED      base seed (default: from the clock); logged
#   STRATA_SOAK_T6_CHUNK  T6 cases per round (default 2000), STRATA_SOAK_T7_CHUNK T7 blocks per
#                         style and round (default 200)
#
# T3 and T11a read STRATA_TEST_SEED as "replay this one seed", so they run without it (their
# seeds come from the clock and every failure prints its seed).
#
# Each test either bounds itself by STRATA_SOAK_SECS ("time"), is re-run with a new seed until
# the time is up ("repeat", for the count-based T6 and T7), or is exhaustive and runs once
# ("once", T4 at depth 4). A "time" or "repeat" test that ends before STRATA_SOAK_SECS is
# flagged SHORT. A hang is cut at 3 x STRATA_SOAK_SECS + 30 min (exit status 124).
#
# The soaktest profile is the dev profile (debug assertions and overflow checks on) with the
# workspace crates optimised (opt-level 2, no incremental, line tables only): dev leaves the
# engine itself unoptimised (T5 spends ~0.1 ms per recovery there), release drops the checks
# and links every test binary with fat LTO. Not yet measured against dev; it builds into
# target/soaktest once.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

SECS=${STRATA_SOAK_SECS:-1800}
JOBS=${STRATA_SOAK_JOBS:-2}
LOGS=${STRATA_SOAK_LOGS:-target/soak}
PROFILE=${STRATA_SOAK_PROFILE:-soaktest}
BUILD=${STRATA_SOAK_BUILD:-1}
SEED=${STRATA_TEST_SEED:-$(($(date +%s) % 1000000))}
T6_CHUNK=${STRATA_SOAK_T6_CHUNK:-2000}
T7_CHUNK=${STRATA_SOAK_T7_CHUNK:-200}
FUZZ_TARGETS="wal_reader sst_open_scan block_decode manifest_decode sst_roundtrip batch_decode"
ALL="T1 T2 T3 T4 T5 T6 T7 T8 T9 T10 T11a T11 T13 Q1 Q2"
WANTED=${STRATA_SOAK_TESTS:-$ALL}
LIMIT=$((3 * SECS + 1800))

if [ "$PROFILE" = soaktest ]; then
  export CARGO_PROFILE_SOAKTEST_INHERITS=dev
  export CARGO_PROFILE_SOAKTEST_OPT_LEVEL=2
  export CARGO_PROFILE_SOAKTEST_DEBUG=line-tables-only
  export CARGO_PROFILE_SOAKTEST_INCREMENTAL=false
fi
CARGO_TEST="cargo test -q -p strata-engine --profile $PROFILE"
NOCAP="-- --nocapture"
mkdir -p "$LOGS"

declare -A CMD MODE PATTERN
add() { # name mode summary-pattern command...
  local name=$1 mode=$2 pat=$3
  shift 3
  CMD[$name]="$*"
  MODE[$name]=$mode
  PATTERN[$name]=$pat
  ORDER+=("$name")
}
ORDER=()
add T1 time '^\[[0-9]+s\] cycles|^(PASSED|FAILED)|RSS growth' \
  "npm run --silent test:soak:t1"
add T2 time 'SOAK-SUMMARY|^T2' \
  "$CARGO_TEST --features crash-points --test crash_points $NOCAP"
add T3 time '^T3 power loss' \
  "env -u STRATA_TEST_SEED $CARGO_TEST --test fault_power_loss $NOCAP"
add T4 once '^T4 exhaustive' \
  "STRATA_TEST_T4_DEPTH=4 $CARGO_TEST --test fault_exhaustive $NOCAP"
add T5 time 'SOAK-SUMMARY' \
  "$CARGO_TEST --test wal_recovery soak_ $NOCAP"
add T6 repeat '^T6 (sniper|shotgun)' \
  "STRATA_SOAK_CASES=$T6_CHUNK $CARGO_TEST --test corruption_db sniper_and_shotgun $NOCAP"
add T7 repeat '^T7 ' \
  "STRATA_SOAK_CASES=$T7_CHUNK $CARGO_TEST --test corruption_compaction never_launders $NOCAP"
add T8 time 'SOAK-SUMMARY' \
  "$CARGO_TEST --test fault_io_errors $NOCAP"
add T9 time 'SOAK-SUMMARY' \
  "$CARGO_TEST --test sigbus_truncation $NOCAP"
for t in $FUZZ_TARGETS; do
  add "T10-$t" time '^Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY: |artifact_prefix|Test unit written' \
    "cd crates/engine/fuzz && mkdir -p corpus-work/$t corpus-raw/$t && (cp -n corpus/$t/* corpus-work/$t/ 2>/dev/null; true) && RUSTC_BOOTSTRAP=1 cargo fuzz run $t corpus-work/$t corpus-raw/$t -- -max_total_time=$SECS -rss_limit_mb=2048 -timeout=10 -max_len=1048576 -print_final_stats=1"
done
add T11a time '^T11a|SOAK-SUMMARY' \
  "env -u STRATA_TEST_SEED $CARGO_TEST --test model_db $NOCAP"
add T11 time 'SOAK-SUMMARY|^T11' \
  "$CARGO_TEST --test atomic_visibility $NOCAP"
add T13 time 'SOAK-SUMMARY|[0-9]+ tests? (passed|failed)' \
  "STRATA_TEST_BOUNDARY_CALLS=1000000 npx ava --timeout=$((SECS + 1200))s __test__/durability-boundary.spec.ts"
# Secondary indexes: Q1 the differential query test against its brute-force model (200 cases a
# round), Q2 kill -9 during indexed writes and online builds (20 kills of each a round).
add Q1 repeat 'queries, [0-9]+ pages checked|[0-9]+ tests? (passed|failed)' \
  "STRATA_TEST_QUERY_CASES=200 npx ava --verbose --timeout=30m __test__/query-model.spec.ts"
add Q2 repeat 'killed at build|[0-9]+ tests? (passed|failed)' \
  "STRATA_TEST_INDEX_KILLS=20 npx ava --verbose --timeout=30m __test__/index-crash.spec.ts"

# The jobs to run, in order.
SELECTED=()
for n in "${ORDER[@]}"; do
  for w in $WANTED; do
    if [ "$n" = "$w" ] || { [ "$w" = T10 ] && [[ $n == T10-* ]]; }; then
      SELECTED+=("$n")
      break
    fi
  done
done
if [ ${#SELECTED[@]} -eq 0 ]; then
  echo "no soak test selected by STRATA_SOAK_TESTS='$WANTED' (known: ${ORDER[*]})" >&2
  exit 2
fi
has() { [[ " ${SELECTED[*]} " == *" $1"* ]]; }
missing() { # tests whose file another change has not landed yet
  case $1 in
    T2) [ ! -f crates/engine/tests/crash_points.rs ] ;;
    T11) [ ! -f crates/engine/tests/atomic_visibility.rs ] ;;
    *) false ;;
  esac
}

echo "soak: ${SELECTED[*]}"
echo "soak: ${SECS}s per test, $JOBS at a time, profile $PROFILE, base seed $SEED, logs in $LOGS"

# ---- Build once, before any clock starts (concurrent cargo runs would wait for each other).
if [ "$BUILD" != 0 ]; then
  t0=$(date +%s)
  if $CARGO_TEST --no-run --tests >"$LOGS/build.log" 2>&1; then :; else
    echo "build failed, see $LOGS/build.log" >&2
    exit 2
  fi
  if has T2 && ! missing T2; then
    $CARGO_TEST --features crash-points --no-run --test crash_points >>"$LOGS/build.log" 2>&1 ||
      echo "T2 build failed (see $LOGS/build.log); T2 will fail" >&2
  fi
  if has T10-; then
    (cd crates/engine/fuzz && export RUSTC_BOOTSTRAP=1 &&
      { command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked; } &&
      cargo run --quiet --release --bin seed_corpus -- corpus-raw && cargo fuzz build) >"$LOGS/build-fuzz.log" 2>&1 ||
      echo "fuzz build failed (see $LOGS/build-fuzz.log); T10 will fail" >&2
  fi
  if { has T1 || has T13 || has Q1 || has Q2; } && { [ ! -f dist/index.js ] || ! ls ./*.node >/dev/null 2>&1; }; then
    npm run build >"$LOGS/build-node.log" 2>&1 || echo "npm run build failed (see $LOGS/build-node.log)" >&2
  fi
  echo "soak: build step $(($(date +%s) - t0))s"
fi

# ---- One job: runs its test (re-running "repeat" tests until the time is up).
run_job() {
  local name=$1 log="$LOGS/$1.log" status="$LOGS/$1.status"
  local start end rc=0 round=0
  start=$(date +%s)
  {
    echo "== $name (${MODE[$name]}): ${CMD[$name]}"
    echo "== STRATA_SOAK_SECS=$SECS STRATA_TEST_SEED=$SEED profile $PROFILE, started $(date -Is)"
  } >"$log"
  if missing "$name"; then
    echo "== not present yet: skipped" >>"$log"
    echo "skip 0 0" >"$status"
    return
  fi
  while :; do
    round=$((round + 1))
    echo "== round $round, seed $((SEED + round - 1))" >>"$log"
    STRATA_SOAK_SECS=$SECS STRATA_TEST_SEED=$((SEED + round - 1)) \
      timeout -k 60 "$LIMIT" bash -c "${CMD[$name]}" >>"$log" 2>&1 &
    echo $! >"$LOGS/$name.pid"
    wait $!
    rc=$?
    [ "${MODE[$name]}" = repeat ] && [ $rc -eq 0 ] && [ $(($(date +%s) - start)) -lt "$SECS" ] || break
  done
  end=$(date +%s)
  echo "== exit $rc after $((end - start))s, $round round(s)" >>"$log"
  echo "$rc $((end - start)) $round" >"$status"
}

# ---- Scheduler: at most JOBS jobs at once. An interrupt stops the running tests: `timeout`
# forwards the TERM to its test's process group.
stop() {
  for f in "$LOGS"/*.pid; do
    [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
  done
  exit 130
}
trap stop INT TERM
rm -f "$LOGS"/*.pid
for name in "${SELECTED[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
    wait -n 2>/dev/null || true
  done
  rm -f "$LOGS/$name.status"
  run_job "$name" &
  echo "soak: started $name ($(date +%T))"
done
wait
rm -f "$LOGS"/*.pid

# ---- Results.
summary() { # name -> one line
  local name=$1 log="$LOGS/$1.log" pat=${PATTERN[$1]}
  case $name in
    T6)
      awk '/^T6 sniper: [0-9]+ cases/ { s += $3; for (i = 1; i <= NF; i++) { if ($i == "detected,") d += $(i-1); if ($i == "undetected,") u += $(i-1) } }
           /^T6 shotgun: [0-9]+ cases/ { g += $3 } /^== round/ { r++ }
           END { printf "%d rounds: %d sniper cases (%d detected, %d undetected), %d shotgun cases", r, s, d, u, g }' "$log"
      ;;
    T7)
      awk '/^T7 / { n++; for (i = 1; i <= NF; i++) if ($i == "corrupt") b += $(i-1) } /^== round/ { r++ }
           END { printf "%d rounds: %d runs, %d corrupt blocks in all; last: ", r, n, b }' "$log"
      grep -aoE "($pat).*" "$log" | tail -1
      ;;
    T10-*)
      grep -aoE "($pat).*" "$log" | tail -4 | tr '\n' ' ' | sed 's/  */ /g'
      ;;
    *)
      grep -aoE "($pat).*" "$log" | tail -2 | tr '\n' ' ' | sed 's/  */ /g'
      ;;
  esac
}
failed=0
printf '\n%-22s %9s %-8s %s\n' test duration status summary
for name in "${SELECTED[@]}"; do
  read -r rc dur rounds <"$LOGS/$name.status" 2>/dev/null || { rc=lost dur=0 rounds=0; }
  st=ok
  if [ "$rc" = skip ]; then
    st=missing
  elif [ "$rc" != 0 ]; then
    st="FAIL($rc)"
    failed=1
  elif [ "${MODE[$name]}" != once ] && [ "$dur" -lt "$SECS" ]; then
    st=SHORT
    failed=1
  fi
  line=$(summary "$name" | cut -c1-400)
  [ "$rc" = skip ] && line="not present in this tree yet"
  printf '%-22s %8ss %-8s %s\n' "$name" "$dur" "$st" "$line"
done
echo "logs: $LOGS/<test>.log"
exit $failed
