/**
 * Logical backups without daemons: how a mariadb-dump stream is read (tables, rows, binlog
 * position), how their manifests are read and checked, how list and retention treat them next to
 * physical chains. The integration test (test/integration/backup-logical.test.ts) runs the real thing.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { DumpScanner } from '../../src/components/mariadb/dump-scan.js';
import { readManifest } from '../../src/targets/local/backup-files.js';
import { applyRetention, listBackups, resolveChain } from '../../src/targets/local/backup.js';
import { applyLogicalRetention } from '../../src/targets/local/logical.js';

const work = mkdtempSync(join(tmpdir(), 'osb-test-logical-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The shape mariadb-dump 10.11 writes (one row per line), with values that look like syntax. */
const DUMP = [
  '/*M!999999\\- enable the sandbox mode */ ',
  '-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB, for debian-linux-gnu (x86_64)',
  "-- CHANGE MASTER TO MASTER_LOG_FILE='mariadb-bin.000003', MASTER_LOG_POS=1426;",
  '--',
  '-- Current Database: `keystone`',
  '--',
  'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `keystone` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */;',
  'USE `keystone`;',
  'DROP TABLE IF EXISTS `local_user`;',
  'CREATE TABLE `local_user` (',
  '  `id` int(11) NOT NULL,',
  '  `name` varchar(255) NOT NULL,',
  '  PRIMARY KEY (`id`)',
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;',
  '/*!40000 ALTER TABLE `local_user` DISABLE KEYS */;',
  'INSERT INTO `local_user` VALUES',
  "(1,'admin'),",
  "(2,'it\\'s (not) a row; really'),",
  "(3,'back\\\\slash\\n(newline)'),",
  "(4,'doubled '' quote ()'),",
  '(5,NULL);',
  'CREATE TABLE `empty` (',
  '  `id` int(11) NOT NULL',
  ') ENGINE=InnoDB;',
  'CREATE TABLE `we``ird` (',
  '  `b` blob',
  ') ENGINE=InnoDB;',
  // The older layout: every row on the INSERT's own line.
  "INSERT INTO `we``ird` VALUES (0x28293B27),(0x00),(_binary 'a)(;');",
  'USE `nova_api`;',
  'CREATE TABLE `cells` (',
  '  `id` int(11) NOT NULL',
  ') ENGINE=InnoDB;',
  'INSERT INTO `cells` VALUES',
  '(1),',
  '(2);',
  'INSERT INTO `cells` VALUES',
  '(3);',
  "-- SET GLOBAL gtid_slave_pos='100-1-42';",
  '-- Dump completed',
  '',
].join('\n');

describe('reading a mariadb-dump stream', () => {
  const expected = {
    tables: { keystone: { local_user: 5, empty: 0, 'we`ird': 3 }, nova_api: { cells: 3 } },
    binlog: { file: 'mariadb-bin.000003', position: 1426, gtid: '100-1-42' },
    bytes: Buffer.byteLength(DUMP),
    complete: true,
  };

  it('counts tables and rows, takes the binlog position, and sees the end', () => {
    const s = new DumpScanner();
    s.push(Buffer.from(DUMP));
    expect(s.end()).toEqual(expected);
  });

  it('gives the same answer whatever the chunk boundaries (also inside multi-byte characters)', () => {
    const text = DUMP.replace("'admin'", "'ädmin ✓'");
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const s = new DumpScanner();
      for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
      expect(s.end(), `chunks of ${size}`).toEqual({ ...expected, bytes: bytes.length });
    }
  });

  it('a dump cut short is not complete; one without binlogs has no position', () => {
    const s = new DumpScanner();
    s.push(DUMP.slice(0, DUMP.indexOf('USE `nova_api`')).replace(/^-- CHANGE MASTER.*$/m, ''));
    const f = s.end();
    expect(f.complete).toBe(false);
    expect(f.binlog).toBeUndefined();
    expect(f.tables.keystone).toEqual({ local_user: 5, empty: 0, 'we`ird': 3 });
  });
});

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** A backup folder as osb writes it: files, then manifest.json listing their sizes and SHA-256. */
function backupDir(root: string, id: string, m: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = join(root, id);
  mkdirSync(dir, { recursive: true });
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  const list = Object.entries(files).map(([path, c]) => ({ path, size: Buffer.byteLength(c), sha256: sha(c) }));
  const at = (m.finishedAt as string | undefined) ?? '2026-11-27T12:00:00.000Z';
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify({ format: 1, id, startedAt: at, finishedAt: at, osbVersion: '0', userValues: {}, components: {}, files: list, totalBytes: 0, ...m }),
  );
  return dir;
}

describe('logical backup manifests', () => {
  const root = join(work, 'manifests');

  it('reads a logical manifest; refuses one that names no services, and unknown kinds', () => {
    const ok = backupDir(root, 'a-logical', { kind: 'logical', services: ['keystone'] });
    expect(readManifest(ok)).toMatchObject({ kind: 'logical', services: ['keystone'] });
    const none = backupDir(root, 'b-logical', { kind: 'logical' });
    expect(() => readManifest(none)).toThrow(/b-logical.*manifest\.json is damaged \(a logical backup that names no services\)/);
    const odd = backupDir(root, 'c-odd', { kind: 'snapshot' });
    expect(() => readManifest(odd)).toThrow(/is damaged \(unknown kind "snapshot"\)/);
  });

  it('a logical backup is a chain of one; a flipped byte or a missing file is named before anything is used', async () => {
    const files = { 'mariadb/keystone.sql.gz': 'dump bytes', 'mariadb/keystone.accounts.json': '[]', 'service-passwords.json': '{}' };
    const dir = backupDir(root, 'd-logical', { kind: 'logical', services: ['keystone'] }, files);
    const chain = await resolveChain(dir, root);
    expect(chain.manifests.map((x) => x.manifest.id)).toEqual(['d-logical']);
    writeFileSync(join(dir, 'mariadb/keystone.sql.gz'), 'dump bytez');
    await expect(resolveChain(dir, root)).rejects.toThrow('backup d-logical is damaged: mariadb/keystone.sql.gz does not match its SHA-256 in the manifest');
    writeFileSync(join(dir, 'mariadb/keystone.sql.gz'), 'dump bytes');
    rmSync(join(dir, 'mariadb/keystone.accounts.json'));
    await expect(resolveChain(dir, root)).rejects.toThrow(/d-logical is incomplete: mariadb\/keystone\.accounts\.json is missing/);
  });
});

describe('list and retention with logical backups beside physical chains', () => {
  const day = 86400_000;
  const now = Date.parse('2026-11-27T12:00:00Z');
  const ago = (d: number) => new Date(now - d * day).toISOString();

  it('physical retention counts only chains; logical retention keeps the newest N of each set of services', () => {
    const root = join(work, 'retention');
    backupDir(root, '20261101T000000000Z-full', { kind: 'full', finishedAt: ago(26) });
    backupDir(root, '20261102T000000000Z-logical', { kind: 'logical', services: ['keystone'], finishedAt: ago(25) });
    backupDir(root, '20261103T000000000Z-logical', { kind: 'logical', services: ['keystone'], finishedAt: ago(24) });
    backupDir(root, '20261104T000000000Z-logical', { kind: 'logical', services: ['nova', 'keystone'], finishedAt: ago(23) });
    backupDir(root, '20261110T000000000Z-full', { kind: 'full', finishedAt: ago(17) });
    backupDir(root, '20261120T000000000Z-logical', { kind: 'logical', services: ['keystone'], finishedAt: ago(7) });
    const keep2 = loadConfig({ set: ['backup.keep.count=2'] });
    // Two physical chains and four logical backups: count=2 leaves both chains alone.
    expect(applyRetention(root, keep2, now)).toEqual([]);
    // keystone alone: three, the oldest goes; {keystone, nova}: one, stays.
    expect(applyLogicalRetention(root, keep2, now)).toEqual(['20261102T000000000Z-logical']);
    // By age: every logical backup older than 10 days, but never the newest of its set.
    expect(applyLogicalRetention(root, loadConfig({ set: ['backup.keep.maxAgeDays=10'] }), now)).toEqual(['20261103T000000000Z-logical']);
    expect(readdirSync(root).sort()).toEqual([
      '20261101T000000000Z-full',
      '20261104T000000000Z-logical',
      '20261110T000000000Z-full',
      '20261120T000000000Z-logical',
    ]);
    // Physical retention by count=1 removes the old chain, and no logical backup.
    expect(applyRetention(root, loadConfig({ set: ['backup.keep.count=1'] }), now)).toEqual(['20261101T000000000Z-full']);
    expect(applyLogicalRetention(root, loadConfig({}), now)).toEqual([]);
  });

  it('osb backup list shows the kind and the services of a logical backup', () => {
    const root = join(work, 'list');
    backupDir(root, '20261101T000000000Z-full', { kind: 'full', components: { mariadb: {}, rabbitmq: {} } });
    backupDir(root, '20261102T000000000Z-logical', { kind: 'logical', services: ['keystone', 'nova'], components: { mariadb: {} } });
    writeFileSync(join(root, '20261102T000000000Z-logical', 'verify.json'), JSON.stringify({ ok: true, at: '2026-11-02T00:01:00Z' }));
    const r = listBackups({ stateDir: join(work, 'no-state'), to: root });
    expect(r.backups).toEqual([
      expect.objectContaining({ id: '20261101T000000000Z-full', kind: 'full', chain: '20261101T000000000Z-full', contents: ['mariadb', 'rabbitmq'] }),
      expect.objectContaining({
        id: '20261102T000000000Z-logical',
        kind: 'logical',
        chain: '-',
        services: ['keystone', 'nova'],
        contents: ['keystone', 'nova'],
        verified: 'ok',
      }),
    ]);
    expect(JSON.parse(readFileSync(join(root, '20261102T000000000Z-logical', 'manifest.json'), 'utf8')).kind).toBe('logical');
  });
});
