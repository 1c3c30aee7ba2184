export { buildProgram } from './program.js';
import { buildProgram } from './program.js';

const isMain = process.argv[1] && /(?:^|[\\/])(osb|main\.js|osb\.mjs)$/.test(process.argv[1]);
if (isMain) await buildProgram().parseAsync(process.argv);
