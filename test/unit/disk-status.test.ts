/**
 * `osb status` on a full disk (docs/faults.md "Full disk"): the generic statfs of a node's folders, and
 * MariaDB's reading of its own error log when the node is down. The end-to-end check on a really full
 * filesystem is test/faults/disk.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { mariadbLocalInstance, mariadbStopCause } from '../../src/components/mariadb/local.js';
import type { Secrets } from '../../src/config/secrets.js';
import { desiredState } from '../../src/model/desired.js';
import { DISK_FULL_BYTES, dataDisk, diskFullMessage } from '../../src/targets/local/status.js';

const secrets: Secrets = {
  mariadbAdminPassword: 'a'.repeat(40),
  rabbitmqAdminPassword: 'b'.repeat(40),
  erlangCookie: 'C'.repeat(48),
  mariadbExporterPassword: 'd'.repeat(40),
  services: {},
};
const dir = mkdtempSync(join(tmpdir(), 'osb-unit-disk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function instance() {
  const config = loadConfig({ set: ['mariadb.replicas=3'] });
  const node = desiredState(config, ['mariadb']).components.mariadb![2]!;
  return mariadbLocalInstance(config, node, join(dir, 'mariadb-2'), secrets);
}

describe('a node data filesystem in osb status', () => {
  it('statfs of the folders the node writes: free and total bytes, the mount point, full below 16 MiB', () => {
    const inst = instance();
    for (const d of inst.dirs) mkdirSync(d, { recursive: true });
    const disk = dataDisk(inst)!;
    const s = statfsSync(inst.dirs[0]!);
    expect(disk.sizeBytes).toBe(s.blocks * s.bsize);
    expect(Math.abs(disk.freeBytes - s.bavail * s.bsize)).toBeLessThan(64 * 1024 * 1024);
    expect(inst.dirs[0]!.startsWith(disk.mount)).toBe(true);
    expect(disk.full).toBe(disk.freeBytes < DISK_FULL_BYTES);
    expect(diskFullMessage({ mount: '/srv/db', freeBytes: 0, sizeBytes: 300 * 1024 * 1024, full: true })).toBe(
      'its data filesystem /srv/db is full (0 B free of 300.0 MiB)',
    );
  });

  it('a node that keeps nothing on disk (no folders yet) has no disk entry', () => {
    const inst = { ...instance(), dirs: [join(dir, 'nowhere')] };
    expect(dataDisk(inst)).toBeUndefined();
  });
});

describe('MariaDB: why a stopped node stopped, from its error log since its last start', () => {
  const log = (lines: string[]) => {
    const inst = instance();
    mkdirSync(join(inst.dir, 'log'), { recursive: true });
    writeFileSync(inst.logFile, lines.join('\n') + '\n');
    return mariadbStopCause(inst);
  };

  it('names ENOSPC (the line InnoDB writes when it cannot extend a tablespace)', () => {
    expect(
      log([
        '2026-11-27 18:57:50 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision  as process 100',
        '2026-11-27 18:58:04 1 [ERROR] InnoDB: preallocating 98304 bytes for file ./nova/t.ibd failed with error 28',
        '2026-11-27 18:58:09 6 [ERROR] [FATAL] InnoDB: Error (Out of disk space) in rollback.',
        '2026-11-27 18:58:09 0 [Note] /usr/sbin/mariadbd (initiated by: unknown): Normal shutdown',
      ]),
    ).toBe('error log: [ERROR] [FATAL] InnoDB: Error (Out of disk space) in rollback.');
  });

  it('ignores what happened before the last start (an old incident is not the cause)', () => {
    expect(
      log([
        '2026-11-27 18:58:04 1 [ERROR] InnoDB: preallocating 98304 bytes for file ./nova/t.ibd failed with error 28',
        '2026-11-27 19:00:00 0 [Note] Starting MariaDB 10.11.19-MariaDB-0+deb12u1 source revision  as process 200',
        '2026-11-27 19:05:00 0 [Note] /usr/sbin/mariadbd (initiated by: root[root] @ localhost []): Normal shutdown',
      ]),
    ).toBeUndefined();
  });

  it('falls back to an inconsistency when no disk line is there', () => {
    expect(
      log([
        '2026-11-27 19:00:00 0 [Note] Starting MariaDB 10.11.19 as process 300',
        '2026-11-27 19:00:09 2 [ERROR] WSREP: Inconsistency detected: Inconsistent by consensus on 1:2',
      ]),
    ).toBe('error log: [ERROR] WSREP: Inconsistency detected: Inconsistent by consensus on 1:2');
  });
});
