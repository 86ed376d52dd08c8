#!/bin/bash -eu
# Runs inside the base-builder-python image with WORKDIR = $SRC/winch-py.
# Produces one libFuzzer-compatible wrapper per target in $OUT, plus seed
# corpora named <target>_seed_corpus.zip.
set -eu

# The targets import the packages winch, oracle and fuzz_targets, so the
# project (and its runtime dependencies: wasmtime, unicorn, capstone, ...) has
# to be installed into the builder's interpreter before PyInstaller runs.
# (The assemble target's expected texts live in fuzz_targets/asm_ref, not in
# the tests package, so the test extra is not needed.)
pip3 install .

# Directory of an installed package, found without importing it.
pkg_dir() {
  python3 -c "import importlib.util, os; print(os.path.dirname(importlib.util.find_spec('$1').origin))"
}

# Extra PyInstaller arguments shared by every target.
#  - unicorn and capstone ship their shared libraries inside the package;
#    --collect-all bundles them.
#  - wasmtime loads <pkg>/linux-<arch>/_libwasmtime.so by path, and that file
#    is not picked up by --collect-all, so it is added explicitly.
#  - our own packages are collected whole so that imports done lazily inside
#    functions are not missed.
#  - --collect-data oracle bundles the seed corpus (oracle/corpus/*.wasm, read
#    with importlib.resources by the compile target).
PYI_ARGS=(
  --collect-data oracle
  --collect-all wasmtime
  --collect-all unicorn
  --collect-all capstone
  --collect-submodules winch
  --collect-submodules oracle
  --collect-submodules fuzz_targets
)
WASMTIME_DIR=$(pkg_dir wasmtime)
for lib in "$WASMTIME_DIR"/linux-*/_libwasmtime.so; do
  [ -e "$lib" ] || continue
  PYI_ARGS+=(--add-binary "$lib:wasmtime/$(basename "$(dirname "$lib")")")
done

# compile_python_fuzzer (from the base image) packages one target file with
# PyInstaller and writes the wrapper $OUT/<basename>.
TARGETS="differential validate compile assemble"
for target in $TARGETS; do
  compile_python_fuzzer "fuzz_targets/$target.py" "${PYI_ARGS[@]}"
done

# Seed corpora: the .wasm files in oracle/corpus/ seed differential, validate and
# compile (libFuzzer picks up <target>_seed_corpus.zip next to the target).
# assemble gets no seed corpus.
shopt -s nullglob
seeds=(oracle/corpus/*.wasm)
shopt -u nullglob
if [ ${#seeds[@]} -gt 0 ]; then
  for target in differential validate compile; do
    zip -j -q "$OUT/${target}_seed_corpus.zip" "${seeds[@]}"
  done
else
  echo "build.sh: warning: no oracle/corpus/*.wasm files, building without seed corpora" >&2
fi
