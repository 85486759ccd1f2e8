import { setFlagsFromString } from 'node:v8';

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

let fused: boolean | undefined;

/**
 * Whether this runtime runs WebAssembly's relaxed-SIMD multiply-add (f32x4.relaxed_madd) as one
 * fused operation (a · b + c rounded once), as V8 does where the CPU has fused multiply-adds (x86
 * with FMA3, every ARM64); false where it runs it as a multiply then an add, or has no relaxed
 * SIMD. Asked once per process, like {@link wasmSimdSupported}. V8's two compilers (Liftoff and
 * TurboFan) give the same result for it: backend.test.ts trains under each and compares.
 */
export function wasmRelaxedMaddFused(): boolean {
  // (1 + 2⁻²³)(1 − 2⁻²³) − 1 is −2⁻⁴⁶ exactly; rounded to float32 before the add, the product is 1
  // and the result 0.
  fused ??= relaxedMadd()?.(1 + 2 ** -23, 1 - 2 ** -23, -1) === -(2 ** -46);
  return fused;
}

let madd: ((a: number, b: number, c: number) => number) | null | undefined;

/**
 * f32x4.relaxed_madd(a, b, c) (lane 0) as this runtime computes it, or undefined where it has no
 * relaxed SIMD. Node 20's V8 runs relaxed SIMD only behind --experimental-wasm-relaxed-simd:
 * where the module does not validate, that flag is set first (V8 reads it when it compiles a
 * module); later Nodes run it as is.
 */
export function relaxedMadd(): ((a: number, b: number, c: number) => number) | undefined {
  if (madd === undefined) {
    const module = Uint8Array.from([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
      0x01, 0x08, 0x01, 0x60, 0x03, 0x7d, 0x7d, 0x7d, 0x01, 0x7d, // type section: (f32, f32, f32) -> f32
      0x03, 0x02, 0x01, 0x00, // function section
      0x07, 0x05, 0x01, 0x01, 0x6d, 0x00, 0x00, // export section: "m"
      0x0a, 0x16, 0x01, 0x14, 0x00, // code section, one body of 20 bytes, no locals:
      0x20, 0x00, 0xfd, 0x13, 0x20, 0x01, 0xfd, 0x13, 0x20, 0x02, 0xfd, 0x13, // f32x4.splat of each argument
      0xfd, 0x85, 0x02, // f32x4.relaxed_madd
      0xfd, 0x1f, 0x00, // f32x4.extract_lane 0
      0x0b,
    ]);
    if (!WebAssembly.validate(module)) setFlagsFromString('--experimental-wasm-relaxed-simd');
    madd = WebAssembly.validate(module) ? (new WebAssembly.Instance(new WebAssembly.Module(module)).exports['m'] as (a: number, b: number, c: number) => number) : null;
  }
  return madd ?? undefined;
}
