#!/usr/bin/env bash
# Coverage-guided fuzzing with AFL++ (cargo afl, stable Rust):
#   ci/fuzz.sh TARGET SECONDS     one target (fuzz/src/lib.rs TARGETS), e.g. dhcp_engine 600
#   ci/fuzz.sh all SECONDS        every target in turn, SECONDS each
# Seeds: the repository's (fuzz/src/seeds.rs), fuzz/regressions/TARGET/, and the shared corpus
# (NETBOOT_CORPUS, default ../shared/corpus) read where it lies. AFL's state is kept in
# target/fuzz/TARGET; each run prints AFL's figures (execs, edges, crashes). A crash fails the
# run and is listed where AFL left it (target/fuzz/TARGET/out/default/crashes/). It is not
# copied into the project: seeded from the shared corpus, it may be a mutation of text that
# must not enter the repository. Write a minimal reproducer by hand into fuzz/regressions/TARGET/
# (`cargo test -p netboot-fuzz` replays it) with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: ci/fuzz.sh TARGET|all SECONDS}
seconds=${2:?usage: ci/fuzz.sh TARGET|all SECONDS}
corpus=${NETBOOT_CORPUS:-$(cd .. && pwd)/shared/corpus}

if ! cargo afl --version >/dev/null 2>&1; then
  cargo install --locked cargo-afl
fi

# The seeder is an ordinary debug binary (the normal, warm target directory). The harness
# gets a target directory of its own: AFL's instrumentation flags would otherwise rebuild
# the normal one. Release with debug assertions and overflow checks, so arithmetic bugs crash.
cargo build -q -p netboot-fuzz --bin fuzz-seeds
seeder=target/debug/fuzz-seeds
CARGO_TARGET_DIR=target/afl \
  CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true \
  CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
  cargo afl build -q --release -p netboot-fuzz --features afl --bin fuzz-afl
harness=target/afl/release/fuzz-afl

if [ "$target" = all ]; then
  targets=$("$harness" 2>&1 | sed -n 's/.*one of: //p' || true)
else
  targets=$target
fi

# No CPU pinning (the machine is shared), no core_pattern requirement, no curses UI.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_QUIET=1 AFL_SKIP_CRASHES=1

failed=0
for t in $targets; do
  # FUZZ_KNOWN: targets with a known, still-open crash (named in issue 14's note), left out of
  # the short CI run so that it gates new crashes; `cargo test -p netboot-fuzz` still replays
  # every saved input of every target.
  case " ${FUZZ_KNOWN:-} " in *" $t "*) echo "== $t: skipped (FUZZ_KNOWN: a known open crash)"; continue ;; esac
  in=target/fuzz/$t/in
  out=target/fuzz/$t/out
  rm -rf "$in"
  "$seeder" "$t" "$in" ${corpus:+"$corpus"}
  mkdir -p "$out"
  # -V: stop after SECONDS; -t: an input taking 2 s is a hang (the iPXE target runs a whole
  # boot in virtual time per input).
  cargo afl fuzz -i "$in" -o "$out" -V "$seconds" -t 2000 -- "$harness" "$t" >"$out/afl.log" 2>&1 || {
    echo "$t: afl-fuzz failed, see $out/afl.log" >&2
    tail -20 "$out/afl.log" >&2
    failed=1
    continue
  }
  stats=$out/default/fuzzer_stats
  echo "== $t ($seconds s)"
  grep -E '^(execs_done|execs_per_sec|corpus_count|edges_found|total_edges|bitmap_cvg|stability|saved_crashes|saved_hangs) ' "$stats"
  crashes=$(find "$out/default/crashes" -type f -name 'id:*' 2>/dev/null | sort)
  if [ -n "$crashes" ]; then
    echo "$t: crashes (reduce each to a hand-written reproducer in fuzz/regressions/$t/):" >&2
    printf '  %s\n' $crashes >&2
    failed=1
  fi
done
exit $failed
