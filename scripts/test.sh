#!/usr/bin/env bash
# Runs the whole test suite: lit/FileCheck, GoogleTest, ONNX node tests,
# hostile inputs, the soak and the torch-exported models against
# onnxruntime; then the sanitizer job (scripts/sanitize.sh: an ASan+UBSan
# build running the unit, lit, hostile and a node-test subset, and a
# 2-minute run of each fuzz target). MLC_SKIP_SANITIZE=1 skips that job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd build && ctest --output-on-failure -j 1 "$@")
if [ "${MLC_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh
fi
