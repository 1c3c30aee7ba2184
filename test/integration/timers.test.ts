import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentId } from '../../src/targets/local/systemd.js';
import { cleanup, osb as hostOsb, portBlock, tempStateDir } from '../helpers/osb.js';
import { SystemdContainer } from '../helpers/systemd-container.js';

/**
 * Scheduled day-2 work of a local deployment (docs/supervision.md "Timers"), under a real systemd: this
 * machine's own OS booted in a throwaway container (test/helpers/systemd-container.ts), osb inside as
 * root. A single MariaDB node (RabbitMQ and memcached off) keeps it short. Port blocks 91 (container)
 * and 92 (the host part, without systemd).
 */
const ROOT = resolve(__dirname, '../..');
const OSB = [process.execPath, `${ROOT}/bin/osb`];
const STATE = '/var/lib/osb-timers';
const ID = deploymentId(STATE);
const unit = (name: string) => `osb-${ID}-${name}`;
const BASE = ['--set', 'rabbitmq.enabled=false', '--set', 'memcached.enabled=false', ...portBlock(91)];
const MARIADB_PORT = 20000 + 91 * 100 + 40;

let ct: SystemdContainer;
const osb = (args: string[], timeoutMs = 600_000) =>
  ct.exec([...OSB, ...args, '--state-dir', STATE], { check: false, timeoutMs, env: { OSB_LOCK_WAIT_SECONDS: '300' } });
const sh = async (script: string, timeoutMs = 600_000) => (await ct.sh(script, { check: false, timeoutMs })).stdout;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Schedule {
  job: string;
  timer?: string;
  state?: string;
  enabled?: string;
  nextRun?: string;
  lastRun?: string;
  lastResult?: string;
  crontab?: string;
}
async function schedules(): Promise<Schedule[]> {
  const r = await osb(['status', '-o', 'json'], 60_000);
  return (JSON.parse(r.stdout) as { schedules: Schedule[] }).schedules;
}
const job = (s: Schedule[], name: string) => s.find((x) => x.job === name);

/** The unit files of this deployment in the system unit dir (the .wants links included). */
const unitFiles = () => sh(`ls -1 /etc/systemd/system /etc/systemd/system/*.wants | grep -- 'osb-${ID}' || true`);

/** A certificate serial as hex, without leading zeros. */
const serialOf = (s: string) =>
  s
    .replace(/^serial=/, '')
    .trim()
    .toUpperCase()
    .replace(/^0+/, '');

describe('scheduled backups, binlog archiving and certificate renewal as systemd timers (real systemd in a container)', { timeout: 900_000 }, () => {
  beforeAll(async () => {
    ct = await SystemdContainer.create('osb-timers', { tmpfsSize: '4g', bindRo: [ROOT] });
    await ct.start();
  }, 120_000);
  afterAll(async () => {
    await ct?.destroy();
  });

  it('osb deploy with backup.schedule, backup.verify and backup.pitr installs and starts both timers; a second deploy changes nothing', async () => {
    const t0 = Date.now();
    const r = await osb(['deploy', ...BASE, '--set', 'backup.schedule=30 2 * * *', '--set', 'backup.verify=true', '--set', 'backup.pitr=true']);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    console.log(`timers: deploy of 1 MariaDB node with two timers took ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(r.stdout).toContain(`timers: ${unit('backup.timer')} (*-*-* 02:30:00, installed), ${unit('binlogs.timer')} (*-*-* *:*:00, installed)`);
    const timers = await sh('systemctl list-timers --all --no-legend');
    expect(timers).toContain(unit('backup.timer'));
    expect(timers).toContain(unit('binlogs.timer'));
    expect((await sh(`systemctl is-enabled ${unit('backup.timer')} ${unit('binlogs.timer')}`)).split('\n').filter(Boolean)).toEqual(['enabled', 'enabled']);
    expect((await sh(`systemctl is-active ${unit('backup.timer')} ${unit('binlogs.timer')}`)).split('\n').filter(Boolean)).toEqual(['active', 'active']);
    // The unit runs osb as the node units do, with the deployment's state dir and --verify; no secret in it.
    const cat = await sh(`systemctl cat ${unit('backup.service')} ${unit('backup.timer')}`);
    expect(cat).toMatch(new RegExp(`ExecStart=${process.execPath} ${ROOT}/bin/osb backup --verify --state-dir ${STATE}\\n`));
    expect(cat).toContain('OnCalendar=*-*-* 02:30:00\nPersistent=true');
    expect(cat).not.toMatch(/password|secret/i);
    const s = await schedules();
    expect(job(s, 'backup')).toMatchObject({ timer: unit('backup.timer'), state: 'active/waiting', enabled: 'enabled', lastResult: 'never run' });
    // 02:30 of the host's zone (whole-hour offsets keep the minutes), within a day.
    const next = job(s, 'backup')!.nextRun!;
    expect(next).toMatch(/T\d\d:30:00Z$/);
    expect(new Date(next).getTime() - Date.now()).toBeLessThanOrEqual(86_400_000);
    const again = await osb(['deploy']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/no change/);
    expect(again.stdout).not.toContain('installed');
  });

  it('systemctl start of the backup service takes a backup and verifies it; osb backup list shows it verified', async () => {
    const t0 = Date.now();
    const r = await ct.exec(['systemctl', 'start', unit('backup.service')], { check: false, timeoutMs: 600_000 });
    console.log(`timers: the backup service (backup, check, verify) ran ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(r.code, await sh(`journalctl -u ${unit('backup.service')} -n 40 --no-pager`)).toBe(0);
    const journal = await sh(`journalctl -u ${unit('backup.service')} --no-pager -o cat`);
    expect(journal).toMatch(/full backup \S+-full: .* → \/var\/lib\/osb-timers\/backups\//);
    expect(journal).toMatch(/verified: \S+-full restored again from its files, every table checksum equal to the manifest/);
    const list = JSON.parse((await osb(['backup', 'list', '--json'])).stdout) as { backups: { id: string; kind: string; verified: string }[] };
    expect(list.backups.map((b) => [b.kind, b.verified])).toEqual([['full', 'ok']]);
    // The verification on record is the one `osb backup verify` writes, after the backup's own check.
    const v = JSON.parse(await sh(`cat ${STATE}/backups/${list.backups[0]!.id}/verify.json`)) as { when: string; ok: boolean };
    expect(v).toMatchObject({ when: 'verify', ok: true });
    expect(job(await schedules(), 'backup')).toMatchObject({ lastResult: 'success' });
  });

  it('the binlogs timer archives every minute by itself; its service archives on demand', async () => {
    await ct.exec(
      [
        'mariadb',
        '--no-defaults',
        '-S',
        `${STATE}/mariadb/mariadb-0/run/mysqld.sock`,
        '-u',
        'root',
        '-e',
        'CREATE TABLE nova.timers_t (id INT PRIMARY KEY); INSERT INTO nova.timers_t VALUES (1)',
      ],
      { timeoutMs: 30_000 },
    );
    const r = await ct.exec(['systemctl', 'start', unit('binlogs.service')], { check: false, timeoutMs: 120_000 });
    expect(r.code, await sh(`journalctl -u ${unit('binlogs.service')} -n 20 --no-pager`)).toBe(0);
    expect(await sh(`journalctl -u ${unit('binlogs.service')} --no-pager -o cat`)).toMatch(
      /archived [1-9]\d* binlog file\(s\) into \/var\/lib\/osb-timers\/backups/,
    );
    const index = await sh(`cat ${STATE}/backups/binlogs/*/mariadb-0/index.json`);
    expect((JSON.parse(index) as unknown[]).length).toBeGreaterThan(0);
    const list = JSON.parse((await osb(['backup', 'list', '--json'])).stdout) as { pitr: { to?: string }[] };
    expect(list.pitr[0]?.to).toBeDefined();
    // The timer itself (every minute): its last trigger shows up in osb status, with a success.
    const t0 = Date.now();
    let b: Schedule | undefined;
    while (Date.now() - t0 < 90_000) {
      b = job(await schedules(), 'binlogs');
      const triggered = await sh(`systemctl show -p LastTriggerUSec --value ${unit('binlogs.timer')}`);
      if (triggered.trim() && b?.lastResult === 'success') break;
      await sleep(2000);
    }
    expect((await sh(`systemctl show -p LastTriggerUSec --value ${unit('binlogs.timer')}`)).trim()).not.toBe('');
    expect(b).toMatchObject({ lastResult: 'success', state: 'active/waiting' });
    expect(new Date(b!.nextRun!).getTime() - Date.now()).toBeLessThanOrEqual(65_000);
    const text = (await osb(['status'])).stdout;
    expect(text).toMatch(/timer backup \(backup\.schedule\): next \d{4}-\d\d-\d\d \d\d:30 UTC, last \d{4}-\d\d-\d\d \d\d:\d\d UTC: success\n/);
    expect(text).toMatch(/timer binlogs \(backup\.pitr\): next \d{4}-\d\d-\d\d \d\d:\d\d UTC, last \d{4}-\d\d-\d\d \d\d:\d\d UTC: success\n/);
  });

  it('a scheduled backup that fails leaves its unit failed: systemctl --failed, the journal and osb status show it', async () => {
    await ct.exec(['systemctl', 'stop', unit('mariadb-0.service')]);
    const r = await ct.exec(['systemctl', 'start', unit('backup.service')], { check: false, timeoutMs: 300_000 });
    expect(r.code).not.toBe(0);
    expect(await sh('systemctl --failed --no-legend --plain')).toContain(unit('backup.service'));
    expect(await sh(`journalctl -u ${unit('backup.service')} -n 30 --no-pager -o cat`)).toMatch(/osb: error: /);
    expect(job(await schedules(), 'backup')!.lastResult).toMatch(/^failed \(exit-code, exit status \d+\)$/);
    expect((await osb(['status'])).stdout).toContain(`WARNING: the last backup run failed (exit-code`);
    const back = await osb(['deploy']);
    expect(back.code, back.stderr.slice(-2000)).toBe(0);
  });

  it('tls.enabled adds the daily certs timer; its service renews only a certificate that is due, reloaded without a restart', async () => {
    const r = await osb(['deploy', '--set', 'tls.enabled=true']);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.stdout).toContain(`${unit('certs.timer')} (*-*-* 00:00:00, installed)`);
    expect(await sh(`systemctl is-enabled ${unit('certs.timer')}`)).toBe('enabled\n');
    const node = `${STATE}/mariadb/mariadb-0/tls`;
    const mainPid = async () => (await sh(`systemctl show -p MainPID --value ${unit('mariadb-0.service')}`)).trim();
    const served = async () =>
      serialOf(await sh(`openssl s_client -connect 127.0.0.1:${MARIADB_PORT} -starttls mysql </dev/null 2>/dev/null | openssl x509 -noout -serial`));
    const onDisk = async () => serialOf(await sh(`openssl x509 -noout -serial -in ${node}/cert.pem`));

    // Nothing due: a no-op that says so.
    const before = await onDisk();
    expect((await ct.exec(['systemctl', 'start', unit('certs.service')], { check: false, timeoutMs: 300_000 })).code).toBe(0);
    expect(await sh(`journalctl -u ${unit('certs.service')} --no-pager -o cat`)).toMatch(
      /no certificate is due for renewal: the first is mariadb-0's, due \S+ \(2\/3 of its lifetime\); nothing changed/,
    );
    expect(await onDisk()).toBe(before);

    // The node's certificate replaced by one from the same CA and key, issued 300 of 365 days ago: due.
    ct.writeFile('/root/backdate.py', BACKDATE);
    const old = serialOf(await sh(`python3 /root/backdate.py ${node}/cert.pem ${node}/key.pem ${STATE}/tls/ca-signing.pem ${STATE}/tls/ca-key.pem`));
    expect(await onDisk()).toBe(old);
    const pid = await mainPid();
    const t0 = Date.now();
    expect((await ct.exec(['systemctl', 'start', unit('certs.service')], { check: false, timeoutMs: 300_000 })).code).toBe(0);
    console.log(`timers: the certs service renewed and reloaded one certificate in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
    expect(await sh(`journalctl -u ${unit('certs.service')} -n 20 --no-pager -o cat`)).toMatch(
      /mariadb-0: renewed \(past 2\/3 of its lifetime \(expires [^)]+\)\): serial \w+, until \S+, reloaded/,
    );
    const renewed = await onDisk();
    expect(renewed).not.toBe(old);
    expect(await served()).toBe(renewed);
    expect(await mainPid()).toBe(pid);
  });

  it('a changed schedule rewrites only the backup timer, whose next run moves; removing backup.schedule removes the backup timer and its service; the others stay', async () => {
    const moved = await osb(['deploy', '--set', 'backup.schedule=45 3 * * *']);
    expect(moved.code, moved.stderr.slice(-2000)).toBe(0);
    expect(moved.stdout).toContain(
      `${unit('backup.timer')} (*-*-* 03:45:00, installed), ${unit('binlogs.timer')} (*-*-* *:*:00), ${unit('certs.timer')} (*-*-* 00:00:00)`,
    );
    expect(job(await schedules(), 'backup')!.nextRun).toMatch(/T\d\d:45:00Z$/);
    const r = await osb(['deploy', '--set', 'backup.schedule=null']);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stdout).toContain('timers removed: backup (no longer in the config)');
    const timers = await sh('systemctl list-timers --all --no-legend');
    expect(timers).not.toContain(unit('backup.timer'));
    expect(timers).toContain(unit('binlogs.timer'));
    expect(timers).toContain(unit('certs.timer'));
    expect(await unitFiles()).not.toMatch(/backup/);
    expect((await schedules()).map((s) => s.job)).toEqual(['binlogs', 'certs']);
  });

  it('osb destroy stops and removes every unit of the deployment, timers included', async () => {
    const r = await osb(['destroy']);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(await unitFiles()).toBe('');
    expect(await sh(`systemctl list-units --all --no-legend --plain 'osb-${ID}*'`)).toBe('');
    expect(await sh('systemctl list-timers --all --no-legend')).not.toContain(`osb-${ID}`);
  });
});

describe('without systemd: osb deploy prints one crontab line per job, and the lines work (host, port block 92)', { timeout: 600_000 }, () => {
  const stateDir = tempStateDir('timers-cron');
  const env = { OSB_SUPERVISOR: 'none' };
  afterAll(() => cleanup(stateDir));

  it('one note per job naming its key and the line to add; osb status -o json carries the same lines', async () => {
    const r = await hostOsb(
      [
        'deploy',
        '--set',
        'rabbitmq.enabled=false',
        '--set',
        'memcached.enabled=false',
        '--set',
        'backup.schedule=@daily',
        '--set',
        'backup.pitr=true',
        '--set',
        'tls.enabled=true',
        ...portBlock(92),
      ],
      { stateDir, env, timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.startsWith('osb: note: ') && l.includes('crontab'));
    const bundle = resolve(ROOT, 'bin/osb');
    expect(notes).toEqual([
      `osb: note: backup.schedule: nothing runs backups of mariadb here (no systemd timers) — add this line to root's crontab (crontab -e): @daily OSB_LOCK_WAIT_SECONDS=3600 ${process.execPath} ${bundle} backup --state-dir ${stateDir} -q`,
      `osb: note: backup.pitr: nothing runs binlog archiving every minute (point-in-time recovery) here (no systemd timers) — add this line to root's crontab (crontab -e): * * * * * ${process.execPath} ${bundle} backup archive-binlogs --state-dir ${stateDir} -q`,
      `osb: note: tls.enabled: nothing runs the daily renewal of node certificates that are due (past 2/3 of their lifetime) here (no systemd timers) — add this line to root's crontab (crontab -e): @daily OSB_LOCK_WAIT_SECONDS=3600 ${process.execPath} ${bundle} certs renew --state-dir ${stateDir} -q`,
    ]);
    const status = JSON.parse((await hostOsb(['status', '-o', 'json'], { stateDir, env })).stdout) as { schedules: Schedule[] };
    expect(status.schedules.map((s) => s.crontab)).toEqual(notes.map((n) => n.replace(/^.*\(crontab -e\): /, '')));

    // What cron would run (the command after the five time fields or the @shortcut), as cron runs it: sh -c.
    const run = (line: string) =>
      new Promise<{ code: number; out: string }>((done) => {
        const command = line.replace(/^(@\w+|(\S+\s+){5})/, '').replace(/\\%/g, '%');
        const p = spawn('/bin/sh', ['-c', command], { env: { PATH: '/usr/bin:/bin' } });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        p.on('close', (code) => done({ code: code ?? -1, out }));
      });
    const binlogs = await run(status.schedules[1]!.crontab!);
    expect(binlogs, binlogs.out).toMatchObject({ code: 0 });
    expect(binlogs.out).toMatch(/archived \d+ binlog file\(s\) into /);
    const certs = await run(status.schedules[2]!.crontab!);
    expect(certs, certs.out).toMatchObject({ code: 0 });
    expect(certs.out).toMatch(/no certificate is due for renewal/);
  });
});

/** Re-signs a node certificate (same subject, key, extensions, CA) as issued 300 days ago for 365 days: past 2/3. Prints its serial. */
const BACKDATE = `
import datetime, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
cert_path, key_path, ca_path, ca_key_path = sys.argv[1:5]
old = x509.load_pem_x509_certificate(open(cert_path, 'rb').read())
key = serialization.load_pem_private_key(open(key_path, 'rb').read(), None)
ca = x509.load_pem_x509_certificate(open(ca_path, 'rb').read())
ca_key = serialization.load_pem_private_key(open(ca_key_path, 'rb').read(), None)
now = datetime.datetime.now(datetime.timezone.utc)
b = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(ca.subject).public_key(key.public_key())
     .serial_number(x509.random_serial_number())
     .not_valid_before(now - datetime.timedelta(days=300)).not_valid_after(now + datetime.timedelta(days=65)))
for ext in old.extensions:
    b = b.add_extension(ext.value, ext.critical)
cert = b.sign(ca_key, hashes.SHA256())
open(cert_path + '.tmp', 'wb').write(cert.public_bytes(serialization.Encoding.PEM))
os.chmod(cert_path + '.tmp', 0o644)
os.replace(cert_path + '.tmp', cert_path)
print('serial=%X' % cert.serial_number)
`;
