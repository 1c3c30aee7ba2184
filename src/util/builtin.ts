import { createRequire } from 'node:module';

const load = createRequire(import.meta.url);

/**
 * A Node built-in module loaded on first use instead of at start-up. The network and compression
 * modules cost 1–10 ms each to load, and most commands (`osb render`, `--help`) never touch them:
 * `const http = builtin<typeof import('node:http')>('node:http'); … http().request(…)`.
 */
export function builtin<T>(name: `node:${string}`): () => T {
  let mod: T | undefined;
  return () => (mod ??= load(name) as T);
}

/** node:crypto on first use: most commands that read a deployment (`osb endpoints`, `render`) hash nothing. */
export const crypto = builtin<typeof import('node:crypto')>('node:crypto');

/** node:child_process on first use (3 ms to load; a no-op deploy, render and `--help` spawn nothing). */
export const childProcess = builtin<typeof import('node:child_process')>('node:child_process');

/** node:net on first use. */
export const net = builtin<typeof import('node:net')>('node:net');
