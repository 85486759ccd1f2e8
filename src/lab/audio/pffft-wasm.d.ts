// @echogarden/pffft-wasm ships no type declarations; src/lab/audio/fft.ts types what it uses.
declare module '@echogarden/pffft-wasm' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
declare module '@echogarden/pffft-wasm/simd' {
  const factory: (moduleArg?: object) => Promise<unknown>;
  export default factory;
}
