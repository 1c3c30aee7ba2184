import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const OSB = resolve(__dirname, '../../bin/osb');

export interface OsbRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would (bin/osb), with its own state dir. */
export function osb(args: string[], opts: { stateDir?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<OsbRun> {
  return new Promise((resolvePromise, reject) => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...opts.env };
    if (opts.stateDir) env.OSB_STATE_DIR = opts.stateDir;
    const child = spawn(process.execPath, [OSB, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function tempStateDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `osb-test-${prefix}-`));
}

/**
 * `--set` flags that move every port of a deployment into its own block, so that test
 * files (and developers' deployments) never collide. Block b uses ports 20000 + b*100 .. (below the ephemeral range 32768-60999, so no client socket holds one)
 */
export function portBlock(block: number): string[] {
  const base = 20000 + block * 100;
  return [
    `rabbitmq.port=${base}`,
    `rabbitmq.managementPort=${base + 10}`,
    `rabbitmq.distPort=${base + 20}`,
    `rabbitmq.epmdPort=${base + 30}`,
    `mariadb.port=${base + 40}`,
    `mariadb.galeraPort=${base + 50}`,
    `memcached.port=${base + 80}`,
    // Exporters: rabbitmq_prometheus +90..92, mysqld-exporter +93..95, memcached exporter +96..98, HAProxy metrics +99.
    `rabbitmq.prometheusPort=${base + 90}`,
    `mariadb.exporterPort=${base + 93}`,
    `memcached.exporterPort=${base + 96}`,
    `mariadb.proxyMetricsPort=${base + 99}`,
  ].flatMap((s) => ['--set', s]);
}

export async function cleanup(stateDir: string): Promise<void> {
  await osb(['destroy'], { stateDir, timeoutMs: 120_000 });
  rmSync(stateDir, { recursive: true, force: true });
}
