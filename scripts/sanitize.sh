#!/usr/bin/env bash
# The sanitizer job: builds the compiler, the runtime and the libFuzzer
# targets with clang-19, AddressSanitizer and UndefinedBehaviorSanitizer into
# build-asan/, then runs the runtime unit tests, the lit tests, a subset of
# the ONNX node tests and a short run of each fuzz target. Any sanitizer
# report fails it. Called by scripts/test.sh (after setup.sh).
#
#   FUZZ_SECONDS=smoke a fixed number of inputs per fuzz target with a fixed
#                      seed, about 2 minutes each (or seconds; 0: skip)
#   NODE_FILTER=RE     which node tests run (default: a cross-section)
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-smoke}
NODE_FILTER=${NODE_FILTER:-'^test_(add|conv|maxpool|gemm|matmul|reshape|slice|gather|concat|split|pad|resize|reduce_sum|softmax|layer_norm|cast|where|expand|tile|range|cumsum|onehot|argmax|mod|div|clip|trilu)'}
start=$(date +%s)

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19 \
  -DCMAKE_C_FLAGS_RELEASE=-O1 -DCMAKE_CXX_FLAGS_RELEASE=-O1 \
  -DMLC_SANITIZE=ON -DMLC_FUZZ=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
built=$(date +%s)

# shellcheck source=scripts/sanitizer-env.sh
. scripts/sanitizer-env.sh

(cd build-asan && ctest --output-on-failure -R '^(runtime_models|runtime_test|runtime_soak|importer_test|lit|hostile_inputs)$')
.venv/bin/python test/e2e/node_tests.py --mlc build-asan/bin/mlc \
  --cache "$HOME/.cache/mlc-models" --work build-asan/test/node_tests --filter "$NODE_FILTER"
tested=$(date +%s)

if [ "$FUZZ_SECONDS" != 0 ]; then
  test/fuzz/run_fuzzers.sh build-asan/bin "$FUZZ_SECONDS" build-asan/fuzz
fi
echo "sanitize: build $((built - start)) s, tests $((tested - built)) s, fuzz $(($(date +%s) - tested)) s"
