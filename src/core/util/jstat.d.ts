// jstat ships no type declarations; these are the functions src/core/util/stats.ts uses.
declare module 'jstat' {
  interface Distribution {
    cdf(x: number, ...params: number[]): number;
    inv(p: number, ...params: number[]): number;
  }
  const pkg: {
    jStat: {
      studentt: Distribution;
    };
  };
  export default pkg;
}
