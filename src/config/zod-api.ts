// The part of zod's API osb uses, named one by one so that the bundle leaves out the rest
// (its 48 other locales, JSON Schema conversion: a third of the bundle, compiled at every start).
export { array, boolean, config, enum, int, number, strictObject, string, union, ZodObject, ZodType } from 'zod';
export type { core, infer } from 'zod';
