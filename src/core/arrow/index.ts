// The Arrow layer: how stages exchange tables and how `conno show` prints them.
export * from './io.js';
export { formatTable, formatFloat, shortestFloat32, tableToJson, toJsonValue, typeName } from './format.js';
export type { FormatOptions, TableJson } from './format.js';
