#!/usr/bin/env bash
# Installs mlc into a temporary prefix, moves the prefix (the install must be
# relocatable), then builds against it as users do:
#   - examples/c/run_model.c with pkg-config, run on a model the installed
#     mlc compiles;
#   - examples/cmake with find_package(mlc) and mlc_add_model(), including
#     the rebuilds a changed option or model must cause.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR WORK_DIR
set -euo pipefail
build=$1 src=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
export MLC_CACHE_DIR="$work/cache"
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$work/staging" > "$work/install.log"
mv "$work/staging" "$work/prefix"
p=$work/prefix
libdir=$(cd "$p" && ls -d lib*/pkgconfig | head -1 | xargs dirname)
for f in bin/mlc bin/mlc-opt include/mlc/runtime.h include/mlc/runtime.hpp \
         "$libdir/libmlc_runtime.so" "$libdir/libmlc_runtime.so.1" \
         "$libdir/pkgconfig/mlc.pc" "$libdir/cmake/mlc/mlcConfig.cmake" \
         "$libdir/cmake/mlc/mlcConfigVersion.cmake" "$libdir/cmake/mlc/mlcAddModel.cmake"; do
  [ -e "$p/$f" ] || fail "$f was not installed"
done
# Outputs are captured before grep: with pipefail, `cmd | grep -q` fails
# whenever grep exits before cmd has written everything (SIGPIPE).
dynamic=$(readelf -d "$p/$libdir/libmlc_runtime.so")
grep -q 'SONAME.*libmlc_runtime\.so\.1\]' <<<"$dynamic" ||
  fail "libmlc_runtime.so has no SONAME libmlc_runtime.so.1"
# The installed mlc uses the installed runtime, found relative to itself.
deps=$(ldd "$p/bin/mlc")
grep -q "libmlc_runtime.so.1 => $p/bin/../$libdir/" <<<"$deps" ||
  fail "the installed mlc does not find the installed runtime: $(grep mlc_runtime <<<"$deps")"
"$p/bin/mlc" --version > /dev/null 2>&1 || "$p/bin/mlc" --help > /dev/null

# C with pkg-config.
export PKG_CONFIG_PATH="$p/$libdir/pkgconfig"
[ "$(pkg-config --modversion mlc)" != "" ] || fail "pkg-config does not know mlc"
cc -std=c99 -Wall -Werror "$src/examples/c/run_model.c" $(pkg-config --cflags --libs mlc) \
  -Wl,-rpath,"$(pkg-config --variable=libdir mlc)" -o "$work/run_model"
"$p/bin/mlc" compile "$src/examples/mlp.onnx" -o "$work/mlp.so" --quiet
out=$("$work/run_model" "$work/mlp.so" batch=3)
echo "$out"
# Softmax rows: 3 rows sum to 3.
[[ "$out" == "probs: float32 [3x4] sum 3.000000" ]] || fail "run_model printed '$out'"

# CMake: find_package + mlc_add_model, on a copy we can edit.
cp -r "$src/examples/cmake" "$work/proj"
cp "$src/examples/mlp.onnx" "$work/mlp.onnx"
gen=()
command -v ninja > /dev/null && gen=(-G Ninja)
cmake -S "$work/proj" -B "$work/proj-build" "${gen[@]}" -DCMAKE_PREFIX_PATH="$p" > "$work/configure.log"
# Builds the project; true when the build compiled the model.
compiled() {
  cmake --build "$work/proj-build" > "$work/last-build.log" 2>&1 ||
    { cat "$work/last-build.log"; fail "the example project did not build"; }
  cat "$work/last-build.log" >> "$work/build.log"
  grep -q "mlc: compiling" "$work/last-build.log"
}
compiled || fail "the first build did not compile the model"
"$work/proj-build/classify" | tee "$work/classify.out"
[ "$(wc -l < "$work/classify.out")" = 2 ] || fail "classify did not print 2 rows"
compiled && fail "a no-op build recompiled the model"
sed -i 's/batch=2/batch=3/' "$work/proj/CMakeLists.txt"
compiled || fail "a changed SHAPES option did not recompile the model"
[ "$("$work/proj-build/classify" | wc -l)" = 3 ] || fail "after batch=3, classify did not print 3 rows"
grep -q '#define MLP_INPUT_0_DIMS {3, 16}' "$work/proj-build/mlp/include/mlp.h" ||
  fail "the generated header does not have the new shape"
touch "$work/mlp.onnx"
compiled || fail "a changed model did not recompile"

# Every snippet of the getting-started page, against this prefix.
"${MLC_PYTHON:-python3}" "$src/test/e2e/doc_snippets.py" "$src/docs/getting-started.md" \
  --prefix "$p" --work "$work/docs"
echo "install_test: ok"
