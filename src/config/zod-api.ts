// The part of zod's API osb uses, named one by one so that the bundle leaves out the rest. zod/mini, the
// functional API: zod's classic API gives every schema instance some 60 method closures, which made
// building osb's config schema ~6 ms of every command's start and most of its young-generation garbage
// (docs/performance.md, session 15). Same core, same parser, same issues.
export {
  _default,
  array,
  boolean,
  config,
  enum,
  gt,
  int,
  lt,
  maximum,
  minimum,
  minLength,
  number,
  optional,
  prefault,
  refine,
  regex,
  strictObject,
  string,
  superRefine,
  trim,
  union,
  ZodMiniObject as ZodObject,
  ZodMiniType as ZodType,
} from 'zod/mini';
export type { core, infer } from 'zod/mini';
