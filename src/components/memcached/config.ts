import type { MemcachedConfig } from '../../config/schema.js';

/** Tuning flags both targets pass to memcached (local argv, Kubernetes container args). */
export function memcachedTuningArgs(cfg: MemcachedConfig): string[] {
  return [
    '-m',
    String(cfg.memoryMB),
    '-c',
    String(cfg.maxConnections),
    '-t',
    String(cfg.threads),
    // UDP off: reflection-amplification risk and OpenStack never uses it.
    '-U',
    '0',
    '-v',
  ];
}
