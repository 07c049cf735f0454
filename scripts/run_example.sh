#!/usr/bin/env bash
# The main job: set up, compile the bundled example model, run it, print
# its outputs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p build/example
echo "== mlc inspect examples/mlp.onnx"
build/bin/mlc inspect examples/mlp.onnx
echo "== mlc compile examples/mlp.onnx -o build/example/mlp.so"
build/bin/mlc compile examples/mlp.onnx -o build/example/mlp.so
echo "== mlc run build/example/mlp.so --input x=examples/x.npy"
build/bin/mlc run build/example/mlp.so --input x=examples/x.npy --output-dir build/example/out
echo "outputs written to build/example/out/"
