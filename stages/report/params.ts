/** Parameters of the report stage (the schema lives with the report code in src/report/params.ts). */
export { ReportParamsSchema, type ReportParams } from '../../src/report/params.js';
