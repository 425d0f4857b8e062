#!/usr/bin/env bash
# Runs each cargo-fuzz target (fuzz/fuzz_targets) for a set time, one after another.
#   scripts/fuzz.sh [SECONDS_PER_TARGET=600] [TARGET...]
# Needs cargo-fuzz (installed here if missing). The toolchain is stable, so the nightly flags
# cargo-fuzz passes are allowed with RUSTC_BOOTSTRAP=1; no sanitizer (the code is safe Rust:
# libFuzzer still finds panics, aborts, stack overflows, hangs and runaway memory).
# Seeds come from fuzz/seeds/TARGET; the growing corpus is kept in fuzz/corpus/TARGET and a
# crash is saved under fuzz/artifacts/TARGET. Exit code 1 if any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(letter_text letter_pdf ann); fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
status=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  echo "== $t for ${secs}s"
  extra=()
  if [ "$t" = letter_pdf ]; then
    # The PDF library can hang or run away with memory on crafted input: imr bounds both by
    # reading PDFs in a child process (README, "Reading letters, and what is never touched"), so here a hang or an OOM is
    # logged and fuzzing goes on; a crash (panic escaping catch_unwind, abort, overflow) stops it.
    extra=(-fork=1 -ignore_timeouts=1 -ignore_ooms=1)
  fi
  if ! cargo fuzz run --sanitizer none "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=262144 "${extra[@]}" \
      -print_final_stats=1 2>&1 | tee "fuzz/$t.log" | grep -E "^(#[0-9]+ +DONE|==|stat::|SUMMARY|Test unit written|Done)"; then
    :
  fi
  if grep -qE "ERROR: libFuzzer: (deadly signal|crash)|panicked|SUMMARY: libFuzzer: (deadly|crash)" "fuzz/$t.log"; then
    echo "!! $t crashed: see fuzz/$t.log and fuzz/artifacts/$t"
    status=1
  fi
done
exit $status
