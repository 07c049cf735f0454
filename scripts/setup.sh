#!/usr/bin/env bash
# Installs everything mlc needs on Debian 12 and builds it into build/.
# Idempotent: packages already present are not reinstalled, the build is
# incremental. Used by the README's two commands.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build ccache g++ pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools clang-19 libclang-rt-19-dev
  libprotobuf-dev protobuf-compiler libonnx-dev libonnx-testdata
  libabsl-dev libgtest-dev
  python3 python3-venv python3-numpy python3-torch python3-torchvision
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Python for the tests: Debian's torch plus onnx and onnxruntime from PyPI.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import onnx, onnxruntime, torch" 2>/dev/null; then
  echo "setup: creating .venv"
  /usr/bin/python3 -m venv --system-site-packages .venv
  .venv/bin/pip install -q --disable-pip-version-check "numpy<2" "onnx==1.23.2" "onnxruntime==1.32.0"
fi

# The Python package's build (pip install . with no build isolation) and tests.
if ! .venv/bin/python -c "import nanobind, scikit_build_core, pytest" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check "nanobind>=2.0" "scikit-build-core>=0.10" pytest
fi

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
