#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS, two at a time, from seed corpora
# made of the ONNX node tests (models, .pb inputs), the bundled .npy and
# compiled model .so files. First replays test/fuzz/regressions/<target>/
# (inputs that once crashed). Fails on any crash, hang (> 10 s per input),
# out-of-memory (> 2 GB) or sanitizer report; what was found is in
# WORK/<target>/artifacts/.
#
#   test/fuzz/run_fuzzers.sh BIN_DIR SECONDS|smoke WORK [TARGET...]
#
# `smoke` (what CI runs) is a fixed number of inputs per target, about two
# minutes each on a 2-core machine, with a fixed seed and no address
# randomisation: the same binary explores the same inputs every time. A
# binary built elsewhere (another checkout path, another compiler) may lay
# out its data differently and explore other inputs, so CI can still find an
# input a local smoke run did not; it goes into regressions/ like any other.
#
# MLC_FUZZ_SEED (default 1) fixes libFuzzer's seed, so that a short run is
# repeatable (a slower machine runs a prefix
# of it); MLC_FUZZ_SEED=0 lets libFuzzer pick one (long runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$1 seconds=$2 work=$3
shift 3
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_import fuzz_tensor_files fuzz_artifact)
mkdir -p "$work"
cache=${MLC_CACHE:-$HOME/.cache/mlc-models}

seed() { # target dir: a fresh seed corpus
  local t=$1 d=$2
  rm -rf "$d" && mkdir -p "$d"
  case $t in
  fuzz_import)
    find /usr/share/libonnx-testdata/data/node "$cache"/onnx-node-* -name model.onnx -size -64k 2>/dev/null |
      awk 'NR % 4 == 0' | while read -r f; do cp "$f" "$d/$(echo "$f" | md5sum | cut -c1-12).onnx"; done ;;
  fuzz_tensor_files)
    { printf '\0'; cat examples/x.npy; } > "$d/x.npy"
    find /usr/share/libonnx-testdata/data/node -name 'input_*.pb' -size -16k 2>/dev/null | awk 'NR % 20 == 0' |
      while read -r f; do { printf '\1'; cat "$f"; } > "$d/$(echo "$f" | md5sum | cut -c1-12).pb"; done ;;
  fuzz_artifact)
    "$bin/mlc" compile examples/mlp.onnx -o "$d/mlp.so" >/dev/null
    "$bin/mlc" compile examples/mlp.onnx --cpu x86-64-v2 -o "$d/mlp_v2.so" >/dev/null ;;
  esac
}

# The sanitizer job's settings, also for a long run started by hand.
# shellcheck source=scripts/sanitizer-env.sh
. scripts/sanitizer-env.sh

status=0
for t in "${targets[@]}"; do
  for f in test/fuzz/regressions/"$t"/*; do
    [ -f "$f" ] || continue
    "$bin/$t" "$f" >"$work/$t-regressions.log" 2>&1 || { echo "run_fuzzers: $t crashes on $f"; status=1; }
  done
done

smoke_runs() {
  case $1 in
  fuzz_import) echo 100000 ;;
  fuzz_tensor_files) echo 10000000 ;;
  fuzz_artifact) echo 1400000 ;;
  esac
}

run() {
  local t=$1 w=$work/$1 limit
  if [ "$seconds" = smoke ]; then
    limit="-runs=$(smoke_runs "$t") -max_total_time=600"
  else
    limit="-max_total_time=$seconds"
  fi
  rm -rf "$w/artifacts" "$w/corpus"
  mkdir -p "$w/artifacts"
  seed "$t" "$w/seeds"
  mkdir -p "$w/corpus"
  local rc=0
  # A smoke run is repeatable only without address randomisation: MLIR and
  # LLVM hash pointers, so with ASLR the coverage feedback, and the inputs
  # explored, differ from run to run.
  local norandom=()
  if [ "$seconds" = smoke ] && setarch "$(uname -m)" -R true 2>/dev/null; then
    norandom=(setarch "$(uname -m)" -R)
  fi
  # shellcheck disable=SC2086
  "${norandom[@]}" "$bin/$t" "$w/corpus" "$w/seeds" $limit -timeout=10 -rss_limit_mb=2048 \
    -seed="${MLC_FUZZ_SEED:-1}" \
    -artifact_prefix="$w/artifacts/" -print_final_stats=1 >"$w/log" 2>&1 || rc=$?
  local execs
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$w/log" | grep -o '[0-9]*$' || echo '?')
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$w/artifacts")" ]; then
    echo "run_fuzzers: $t FAILED after $execs runs (exit $rc); see $w/log and $w/artifacts/"
    tail -30 "$w/log"
    return 1
  fi
  echo "run_fuzzers: $t ok: $execs runs ($limit), 0 crashes, $(ls "$w/corpus" | wc -l) corpus inputs"
}

pids=()
for t in "${targets[@]}"; do
  run "$t" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
