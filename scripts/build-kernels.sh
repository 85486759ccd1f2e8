#!/usr/bin/env bash
# `npm run build:kernels`: compile conno's wasm SIMD kernels (src/lab/ml/kernels/c/simd_kernels.c)
# twice with Debian 12's clang 16 and its lld (apt-get install clang-16 lld-16; CLANG and WASM_LD
# name others): simd_kernels.wasm with fused multiply-adds (relaxed SIMD) and
# simd_kernels_mul_add.wasm without (the top of the C file says how they differ). The .wasm files
# are committed, so installing conno needs no compiler; kernels.test.ts checks they are what this
# script builds from the source. With a folder argument, writes them there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-src/lab/ml/kernels/c}
clang=${CLANG:-clang-16}
wasm_ld=${WASM_LD:-$(command -v wasm-ld-16 || command -v wasm-ld)}
src=src/lab/ml/kernels/c/simd_kernels.c
flags=(--target=wasm32 -O3 -msimd128 -nostdlib -ffreestanding -ffp-contract=off)
for variant in "simd_kernels -DCONNO_FMA=1 -mrelaxed-simd" "simd_kernels_mul_add -DCONNO_FMA=0"; do
  read -r name defs <<<"$variant"
  # The module works in place on TensorFlow.js's heap, which it imports: it must own no memory of
  # its own (no stack use, no data), or it would write over the backend's. ($defs: one or two flags.)
  # shellcheck disable=SC2086
  if "$clang" "${flags[@]}" $defs -S -o - "$src" | grep -qE '__stack_pointer|\.section\s+\.(data|rodata|bss)'; then
    echo "build:kernels: simd_kernels.c uses a stack or static data ($name); keep every kernel free of both" >&2
    exit 1
  fi
  # shellcheck disable=SC2086
  "$clang" "${flags[@]}" $defs -fuse-ld="$wasm_ld" \
    -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all \
    -o "$out/$name.wasm" "$src"
done
