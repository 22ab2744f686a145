#!/usr/bin/env bash
# Fuzzes kiln with cargo-fuzz (libFuzzer): builds every target in fuzz/ once,
# runs each for N seconds, and exits non-zero on any finding, printing the
# saved input's path (fuzz/README.md: the targets and what each checks).
#
#   scripts/fuzz.sh [--seconds N] [--ci] [target...]
#
#   --seconds N   seconds per target (default 60; `make fuzz`: $FUZZ_SECONDS, 300)
#   --ci          the pass `make test` runs: each target from its seeds
#                 alone (fuzz/corpus-ci/, remade each time), with a fixed
#                 seed and a fixed number of runs (a few seconds each), so
#                 it explores the same inputs on every machine: a CI failure
#                 is reproducible, and a pass does not depend on luck
#   --install-only  install the toolchain and cargo-fuzz, then stop
#   target...     a subset of: sniff_probe decode decode_many estimate
#                 progressive tus_headers events keys (default: all)
#
# Installs what is missing: a nightly toolchain (rustup, minimal profile)
# and cargo-fuzz (pinned, `cargo install --locked`). If no nightly can be
# installed, it builds with stable and RUSTC_BOOTSTRAP=1 (cargo-fuzz passes
# nightly-only -Z flags). Targets are built without a sanitizer (-s none):
# kiln and its decoders are safe Rust, ASan doubled the time per input and
# inflates RSS past any memory budget check; an over-budget allocation is
# caught by the targets' own allocator (fuzz/src/budget.rs) instead.
# Seeds, copied into the gitignored fuzz/corpus/<target>/ that libFuzzer
# grows: fuzz/seeds/<target>/ (committed); for the image targets, tiny
# generated images (fuzz/make_seeds.py), the hostile corpus tests/hostile/
# (files up to 64 KiB) and ../shared/corpus ($KILN_CORPUS): files up to
# 64 KiB whole, larger ones as 64 KiB prefixes (a JPEG's ending with its
# end-of-image marker; left out with --ci, being 25-420 ms a run).
# Environment: FUZZ_TOOLCHAIN (nightly), FUZZ_SANITIZER (none; `address`
# makes -malloc_limit_mb effective, which needs a sanitizer's malloc hooks),
# FUZZ_ARGS (extra libFuzzer flags), KILN_CORPUS; CARGO_BUILD_JOBS as usual.
set -euo pipefail

CARGO_FUZZ_VERSION=0.13.2
ALL_TARGETS=(sniff_probe decode decode_many estimate progressive tus_headers events keys)
IMAGE_TARGETS=" sniff_probe decode decode_many estimate progressive "

root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/fuzz"
log() { printf '==> %s\n' "$*" >&2; }

seconds=60
ci=0
install_only=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --ci) ci=1; shift ;;
    --install-only) install_only=1; shift ;;
    -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "unknown target $t (one of: ${ALL_TARGETS[*]})" >&2; exit 2; }
done

# A nightly toolchain, else stable with RUSTC_BOOTSTRAP=1.
toolchain="${FUZZ_TOOLCHAIN:-nightly}"
sanitizer="${FUZZ_SANITIZER:-none}"
ensure_toolchain() {
  if rustup run "$toolchain" rustc --version >/dev/null 2>&1; then return; fi
  log "installing Rust $toolchain (minimal profile)"
  if rustup toolchain install "$toolchain" --profile minimal >&2; then return; fi
  log "no $toolchain toolchain: building with stable and RUSTC_BOOTSTRAP=1"
  toolchain=stable
  export RUSTC_BOOTSTRAP=1
}

ensure_cargo_fuzz() {
  if cargo fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then return; fi
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION" >&2
}

# fuzz/corpus/<target>/: its committed seeds, and for image targets the
# shared corpus (whole or a 64 KiB prefix) and the generated tiny images.
# Only adds what is missing, so what libFuzzer found is kept between runs.
prepare_corpus() {
  local target="$1" dir
  dir="$(corpus_dir "$target")"
  if [ "$ci" = 1 ]; then rm -rf "$dir"; fi
  mkdir -p "$dir"
  if [ -d "$fuzz/seeds/$target" ]; then cp -n "$fuzz/seeds/$target"/* "$dir"/ 2>/dev/null || true; fi
  [[ "$IMAGE_TARGETS" == *" $target "* ]] || return 0
  # The progressive decoder's test fixtures (libjpeg-turbo, every sampling;
  # large.jpg is shrunk on load by the pipeline's targets too).
  local fixture
  for fixture in "$root"/crates/core/tests/fixtures/progressive/*.jpg; do
    cp -n "$fixture" "$dir/progressive-$(basename "$fixture")"
  done
  local corpus="${KILN_CORPUS:-$root/../shared/corpus}" f
  if [ -d "$corpus" ]; then
    for f in "$corpus"/*/*; do
      add_image_seed "$dir" "shared-$(basename "$(dirname "$f")")-$(basename "$f")" "$f"
    done
  else
    log "no shared corpus at $corpus (set KILN_CORPUS)"
  fi
  # kiln's own generated hostile corpus (tests/hostile/INDEX.md): whole files only.
  for f in "$root"/tests/hostile/*; do
    [ "$(stat -c %s "$f")" -gt 65536 ] || add_image_seed "$dir" "hostile-$(basename "$f")" "$f"
  done
  if command -v python3 >/dev/null; then python3 "$fuzz/make_seeds.py" "$dir"; fi
}

# The working corpus of target $1: the CI pass starts from the seeds alone.
corpus_dir() {
  if [ "$ci" = 1 ]; then echo "$fuzz/corpus-ci/$1"; else echo "$fuzz/corpus/$1"; fi
}

# The CI pass's runs per target: 4-10 s each on a 2-core machine of 2026
# (from the seeds alone the image targets run 300-450 inputs a second; a
# grown corpus of small inputs, 10,000 and more).
ci_runs() {
  case "$1" in
    sniff_probe) echo 3000000 ;;
    decode) echo 8000 ;;
    decode_many) echo 9000 ;;
    estimate) echo 3500 ;;
    progressive) echo 20000 ;;
    tus_headers) echo 800000 ;;
    events) echo 600000 ;;
    keys) echo 120000 ;;
  esac
}

# Copies image file $3 as seed $2 into $1: whole up to 64 KiB, else (not
# with --ci: a photo's prefix takes 25-420 ms a run) its first 64 KiB, a
# JPEG's ending with the end-of-image marker so that it decodes.
add_image_seed() {
  local dir="$1" name="$2" f="$3"
  [ -f "$f" ] && [[ "$f" != *.md ]] && [ ! -e "$dir/$name" ] || return 0
  if [ "$(stat -c %s "$f")" -le 65536 ]; then cp "$f" "$dir/$name"
  elif [ "$ci" = 1 ]; then return 0
  elif [[ "$f" == *.jpg ]]; then { head -c 65534 "$f"; printf '\xff\xd9'; } >"$dir/$name"
  else head -c 65536 "$f" >"$dir/$name"; fi
}

# libFuzzer flags per target: 10 s per input is a hang (Spin allows 30 s,
# wasm runs 1.5-3x slower than native); RSS over 512 MiB is an OOM (the
# 120 MiB budget plus the fuzzer's own corpus, tables and binary: the precise
# per-conversion check is the allocator's, see fuzz/src/budget.rs); the
# scheduler favours fast inputs (a photo's prefix decodes 1000x slower than
# a generated seed).
fuzzer_flags() {
  local target="$1" max_len=4096
  [[ "$IMAGE_TARGETS" == *" $target "* ]] && max_len=65536
  echo "-max_len=$max_len -timeout=10 -rss_limit_mb=512 -malloc_limit_mb=128 -print_final_stats=1"
  if [ "$ci" = 1 ]; then
    # Deterministic: a fixed seed and number of runs, no time-based
    # scheduling; the time limit is only a backstop for a very slow machine.
    echo "-seed=${FUZZ_SEED:-1} -runs=$(ci_runs "$target") -max_total_time=120"
  else
    echo "-max_total_time=$seconds -entropic_scale_per_exec_time=1"
  fi
  echo "${FUZZ_ARGS:-}"
}

# Runs one target; on a finding prints the saved inputs and returns 1.
run_target() {
  local target="$1" logfile="$fuzz/logs/$1.log" marker
  mkdir -p "$fuzz/artifacts/$target" "$fuzz/logs"
  marker="$(mktemp)"
  if [ "$ci" = 1 ]; then
    log "fuzzing $target: $(ci_runs "$target") runs, seed ${FUZZ_SEED:-1} (log: ${logfile#"$root"/})"
  else
    log "fuzzing $target for ${seconds}s (log: ${logfile#"$root"/})"
  fi
  # shellcheck disable=SC2046 # the flags are split on purpose
  if RUST_BACKTRACE=1 cargo "+$toolchain" fuzz run --sanitizer "$sanitizer" --release "$target" "$(corpus_dir "$target")" \
      -- $(fuzzer_flags "$target") >"$logfile" 2>&1; then
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$logfile" | tail -1 | sed "s/^/    $target: /" >&2 || true
    rm -f "$marker"
    return 0
  fi
  echo "FINDING in $target (whole log: ${logfile#"$root"/}):" >&2
  # The panic or budget message and the backtrace's first frames in kiln code.
  grep -E -A30 "panicked at|^kiln-fuzz:|ERROR: libFuzzer" "$logfile" | grep -v -E '^ +at /rustc|^ +at .*libfuzzer' | head -40 >&2
  find "$fuzz/artifacts/$target" -type f -newer "$marker" | sed 's/^/    saved input: /' >&2
  echo "    reproduce: cargo +$toolchain fuzz run -s none -O $target <saved input>" >&2
  rm -f "$marker"
  return 1
}

main() {
  ensure_toolchain
  ensure_cargo_fuzz
  [ "$install_only" = 0 ] || return 0
  cd "$root"
  local started=$SECONDS failed=()
  log "building the fuzz targets (cargo +$toolchain fuzz build, sanitizer $sanitizer, release)"
  local one=()  # cargo fuzz builds one target or all of them
  [ ${#targets[@]} -eq 1 ] && one=("${targets[0]}")
  # cargo fuzz has no --locked: check that fuzz/Cargo.lock pins everything first.
  cargo "+$toolchain" metadata --locked --format-version 1 --manifest-path "$fuzz/Cargo.toml" >/dev/null
  cargo "+$toolchain" fuzz build --sanitizer "$sanitizer" --release "${one[@]}" >&2
  log "built in $((SECONDS - started))s"
  for t in "${targets[@]}"; do
    prepare_corpus "$t"
    run_target "$t" || failed+=("$t")
  done
  log "fuzzed ${#targets[@]} target(s) in $((SECONDS - started))s in all"
  if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzzing found crashes in: ${failed[*]} (saved inputs above; fuzz/README.md: add each as a regression test)" >&2
    exit 1
  fi
}

main
