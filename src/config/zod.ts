import en from 'zod/v4/locales/en.js';
import * as z from './zod-api.js';

/**
 * zod as osb uses it: zod/mini with zod's English messages (zod/mini loads no locale by itself), and
 * without its JIT. zod 4 compiles each object schema into a parser with `new Function` on first use, code
 * V8's cache of the bundle cannot hold; osb parses its config once per run, which the interpreted parser
 * does faster than compiling one (docs/performance.md, session 11).
 * Must run before any schema is built: every module takes z from here.
 */
z.config({ ...en(), jitless: true });

export { z };
