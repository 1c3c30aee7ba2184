import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { ComponentName } from '../../config/schema.js';
import { OsbError } from '../../util/errors.js';

/** Binaries each component needs, and the Debian/Ubuntu packages that ship them. */
export const REQUIRED: Record<ComponentName, { binaries: string[]; packages: string[] }> = {
  rabbitmq: { binaries: ['/usr/lib/rabbitmq/bin/rabbitmq-server', '/usr/bin/epmd'], packages: ['rabbitmq-server'] },
  mariadb: { binaries: ['/usr/sbin/mariadbd', '/usr/bin/mariadb-install-db'], packages: ['mariadb-server'] },
  memcached: { binaries: ['/usr/bin/memcached'], packages: ['memcached'] },
};
// mariabackup SST streams through socat.
export const GALERA = { binaries: ['/usr/lib/galera/libgalera_smm.so', '/usr/bin/mariadb-backup', '/usr/bin/socat'], packages: ['galera-4', 'mariadb-backup', 'socat'] };

export function missingPackages(components: ComponentName[], galera: boolean): string[] {
  const need = new Set<string>();
  const reqs = components.map((c) => REQUIRED[c]);
  if (galera && components.includes('mariadb')) reqs.push(GALERA);
  for (const r of reqs) if (r.binaries.some((b) => !existsSync(b))) r.packages.forEach((p) => need.add(p));
  return [...need];
}

/**
 * Installs missing packages with apt-get when running as root (output streamed to
 * `onLine`); otherwise stops with the exact command to run.
 */
export async function ensurePackages(packages: string[], onLine: (line: string) => void): Promise<void> {
  if (packages.length === 0) return;
  const cmd = `apt-get install -y ${packages.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new OsbError(`missing packages: ${packages.join(', ')}`, `install them first: sudo ${cmd}`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Package scripts would start the distribution's own services; a policy-rc.d is not ours to change,
  // so we let apt do its job and never use those system instances.
  for (const args of [['update', '-q'], ['install', '-y', '-q', ...packages]]) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn('apt-get', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const relay = (d: Buffer) => d.toString().split('\n').filter(Boolean).forEach(onLine);
      child.stdout.on('data', relay);
      child.stderr.on('data', relay);
      child.on('error', (e) => reject(new OsbError(`apt-get could not run: ${e.message}`, `install by hand: ${cmd}`)));
      child.on('close', (code) => (code === 0 ? resolve() : reject(new OsbError(`apt-get ${args[0]} failed (exit ${code})`, `run it by hand to see why: ${cmd}`))));
    });
  }
}
