/** Parameters of the report stage (the schema lives with the report code in src/lab/report/params.ts). */
export { ReportParamsSchema, type ReportParams } from '../../src/lab/report/params.js';
