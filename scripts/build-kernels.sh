#!/usr/bin/env bash
# `npm run build:kernels`: compile conno's wasm SIMD kernels (src/lab/ml/kernels/c/*.c) with Debian's
# clang and lld (apt-get install clang lld). The .wasm is committed, so installing conno needs no
# compiler; test/simd-kernels.test.ts checks it is what this script builds from the source.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/lab/ml/kernels/c/simd_kernels.wasm}
flags=(--target=wasm32 -O3 -msimd128 -nostdlib -ffreestanding -ffp-contract=off)
# The module works in place on TensorFlow.js's heap, which it imports: it must own no memory of
# its own (no stack use, no data), or it would write over the backend's.
if clang "${flags[@]}" -S -o - src/lab/ml/kernels/c/simd_kernels.c | grep -qE '__stack_pointer|\.section\s+\.(data|rodata|bss)'; then
  echo "build:kernels: simd_kernels.c uses a stack or static data; keep every kernel free of both" >&2
  exit 1
fi
clang "${flags[@]}" \
  -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all \
  -o "$out" src/lab/ml/kernels/c/simd_kernels.c
