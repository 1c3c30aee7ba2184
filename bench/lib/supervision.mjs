// Section 8 of the bench: supervision under a real systemd (a throwaway container of this machine,
// test/helpers/systemd-container.ts, bundled on the fly with esbuild). Every figure pairs what
// systemd does by itself with the same recovery done by hand in the same container, same run.
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { build } from 'esbuild';

const now = () => performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const STATE = '/var/lib/osb-bench-supervised';

/** The container rig, compiled from the test helper (one source for tests and bench). */
async function loadRig(repo) {
  const dir = mkdtempSync('/tmp/osb-bench-rig-');
  const outfile = join(dir, 'rig.mjs');
  await build({
    entryPoints: [join(repo, 'test/helpers/systemd-container.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'error',
  });
  const mod = await import(outfile);
  rmSync(dir, { recursive: true, force: true });
  return mod.SystemdContainer;
}

export async function sectionSupervision({ repo, figs, log, runs }) {
  const fKill = ['mariadb', 'rabbitmq', 'memcached'].map((c) => [
    c,
    figs.add('8', `kill -9 of ${c}-1 → healthy again, systemd restarts it (3-node tier)`, {
      unit: 's',
      baseline: `same kill, then \`osb deploy ${c}\` by hand`,
    }),
  ]);
  const fBoot = figs.add('8', 'reboot → whole 3-node tier healthy, no command run', { unit: 's', baseline: 'every node stopped, then `osb deploy` by hand' });
  if (process.getuid?.() !== 0) {
    for (const [, f] of fKill) f.skip('needs root (systemd-nspawn)');
    fBoot.skip('needs root (systemd-nspawn)');
    return;
  }
  const SystemdContainer = await loadRig(repo);
  const ct = await SystemdContainer.create('osb-bench', { tmpfsSize: '4g', bindRo: [repo] });
  const osb = (args, timeoutMs = 600_000) =>
    ct.exec([process.execPath, join(repo, 'bin/osb'), ...args, '--state-dir', STATE], { check: false, timeoutMs, env: { OSB_LOCK_WAIT_SECONDS: '300' } });
  const status = async () => {
    const r = await osb(['status', '-o', 'json'], 60_000);
    try {
      return JSON.parse(r.stdout);
    } catch {
      return undefined;
    }
  };
  const node = (s, name) => s?.components.flatMap((c) => c.nodes).find((n) => n.name === name);
  /** Seconds from t0 until `ok(status)` holds (polled every 200 ms). */
  const until = async (t0, ok, timeoutMs = 300_000) => {
    for (;;) {
      const s = await status();
      if (ok(s)) return (now() - t0) / 1000;
      if (now() - t0 > timeoutMs) throw new Error(`not healthy within ${timeoutMs / 1000}s`);
      await sleep(200);
    }
  };
  try {
    await ct.start();
    const d = await osb(['deploy', '--set', 'mariadb.replicas=3', '--set', 'rabbitmq.replicas=3', '--set', 'memcached.replicas=3']);
    if (d.code !== 0) throw new Error(`deploy in the container failed: ${d.stderr.slice(-400)}`);
    log('7 supervision: 3-node tier deployed under systemd in the container');
    for (let i = 0; i < runs; i++) {
      for (const [c, f] of fKill) {
        const name = `${c}-1`;
        // systemd restarts it by itself
        let pid = node(await status(), name).pid;
        let t0 = now();
        await ct.exec(['kill', '-9', String(pid)]);
        const auto = await until(t0, (s) => s?.healthy && node(s, name)?.pid !== pid);
        // by hand: the unit is stopped first (so systemd stays out of it), then the node is killed and deployed
        const unit = node(await status(), name).supervision.unit;
        pid = node(await status(), name).pid;
        await ct.exec(['systemctl', 'kill', '-s', 'KILL', unit], { check: false });
        await ct.exec(['systemctl', 'stop', unit], { check: false });
        t0 = now();
        const r = await osb(['deploy', c]);
        const byHand = r.code === 0 ? await until(t0, (s) => s?.healthy) : undefined;
        f.pair(auto, byHand);
        log(`7 kill -9 ${name}: systemd ${auto.toFixed(1)} s, by hand ${byHand?.toFixed(1) ?? 'failed'} s`);
      }
      // reboot vs. everything stopped and deployed by hand
      let t0 = now();
      await ct.reboot(180_000);
      const boot = await until(t0, (s) => s?.healthy, 600_000);
      await ct.exec(
        [
          'systemctl',
          'stop',
          ...(await ct.exec(['sh', '-c', "systemctl list-units --no-legend 'osb-*.service' | awk '{print $1}'"])).stdout.split('\n').filter(Boolean),
        ],
        { check: false },
      );
      t0 = now();
      const r = await osb(['deploy']);
      const byHand = r.code === 0 ? await until(t0, (s) => s?.healthy, 600_000) : undefined;
      fBoot.pair(boot, byHand);
      log(`7 reboot: systemd ${boot.toFixed(1)} s, stopped + osb deploy by hand ${byHand?.toFixed(1) ?? 'failed'} s`);
    }
  } catch (err) {
    for (const [, f] of fKill) if (!f.figure.osb.length) f.skip(String(err.message ?? err).split('\n')[0]);
    if (!fBoot.figure.osb.length) fBoot.skip(String(err.message ?? err).split('\n')[0]);
  } finally {
    await osb(['destroy'], 120_000).catch(() => {});
    await ct.destroy();
  }
}
