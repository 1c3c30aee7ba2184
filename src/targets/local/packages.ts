import { childProcess } from '../../util/builtin.js';
import { OsbError } from '../../util/errors.js';

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
  for (const args of [
    ['update', '-q'],
    ['install', '-y', '-q', ...packages],
  ]) {
    await new Promise<void>((resolve, reject) => {
      const child = childProcess().spawn('apt-get', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const relay = (d: Buffer) => d.toString().split('\n').filter(Boolean).forEach(onLine);
      child.stdout.on('data', relay);
      child.stderr.on('data', relay);
      child.on('error', (e) => reject(new OsbError(`apt-get could not run: ${e.message}`, `install by hand: ${cmd}`)));
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new OsbError(`apt-get ${args[0]} failed (exit ${code})`, `run it by hand to see why: ${cmd}`)),
      );
    });
  }
}

/** Installed versions of Debian packages (null: not installed), from dpkg's database. */
export function installedVersions(packages: string[]): Promise<Record<string, string | null>> {
  return new Promise((resolve) => {
    const out: Record<string, string | null> = Object.fromEntries(packages.map((p) => [p, null]));
    const child = childProcess().spawn('dpkg-query', ['-W', '-f', '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n', ...packages], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.on('error', () => resolve(out));
    child.on('close', () => {
      for (const line of text.split('\n')) {
        const [name, status, version] = line.split('\t');
        if (name && name in out && status?.startsWith('ii') && version) out[name] = version;
      }
      resolve(out);
    });
  });
}
