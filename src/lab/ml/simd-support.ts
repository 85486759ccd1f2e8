/**
 * Whether this runtime runs WebAssembly SIMD, which decides whether tfjs-backend-wasm loads its
 * SIMD build (different kernels, so different bits). Validates a one-function module that
 * returns a v128 constant, once per process (the runtime cannot change under it; conno's kernels
 * ask at every call, and validating each time was ~0.35 ms of a TC-ResNet8 training step), and
 * loads no TensorFlow.js (stage fingerprints use it).
 */
let supported: boolean | undefined;

export function wasmSimdSupported(): boolean {
  supported ??= validateSimdModule();
  return supported;
}

function validateSimdModule(): boolean {
  const module = Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
    0x03, 0x02, 0x01, 0x00, // function section
    0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b, // code: v128.const 0
  ]);
  return WebAssembly.validate(module);
}
