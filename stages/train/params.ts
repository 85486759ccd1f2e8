/** train's parameters: one zod schema in src/lab/ml/params.ts (the training code reads them too). */
export * from '../../src/lab/ml/params.js';
