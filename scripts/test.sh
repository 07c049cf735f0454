#!/usr/bin/env bash
# Runs the whole test suite: lit/FileCheck, GoogleTest, ONNX node tests and
# the torch-exported models against onnxruntime.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j 1 "$@"
