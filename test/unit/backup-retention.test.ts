import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { renderLocalMyCnf } from '../../src/components/mariadb/local.js';
import { applyRetention } from '../../src/targets/local/backup.js';

const root = mkdtempSync(join(tmpdir(), 'osb-test-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const day = 86400_000;
const now = Date.parse('2026-11-27T12:00:00Z');

/** Folders with manifests only (retention reads nothing else). */
function fake(id: string, kind: 'full' | 'incremental', daysAgo: number, parent?: string) {
  mkdirSync(join(root, id));
  const at = new Date(now - daysAgo * day).toISOString();
  writeFileSync(
    join(root, id, 'manifest.json'),
    JSON.stringify({ format: 1, id, kind, parent, startedAt: at, finishedAt: at, files: [], components: {}, userValues: {}, totalBytes: 0 }),
  );
}

describe('backup retention (backup.keep)', () => {
  it('removes whole chains, oldest first, never the newest chain, and leaves partial backups alone', () => {
    fake('20261101T000000000Z-full', 'full', 26);
    fake('20261102T000000000Z-incr', 'incremental', 25, '20261101T000000000Z-full');
    fake('20261110T000000000Z-full', 'full', 17);
    fake('20261111T000000000Z-incr', 'incremental', 16, '20261110T000000000Z-full');
    fake('20261120T000000000Z-full', 'full', 7);
    mkdirSync(join(root, '.20261127T000000000Z-full.partial'));
    const config = loadConfig({ set: ['backup.keep.count=2'] });
    expect(applyRetention(root, config, now)).toEqual(['20261102T000000000Z-incr', '20261101T000000000Z-full']);
    // Age: the newest chain stays even when it is too old.
    const old = loadConfig({ set: ['backup.keep.maxAgeDays=1'] });
    expect(applyRetention(root, old, now)).toEqual(['20261111T000000000Z-incr', '20261110T000000000Z-full']);
    expect(readdirSync(root).sort()).toEqual(['.20261127T000000000Z-full.partial', '20261120T000000000Z-full']);
  });

  it('without keep settings nothing is removed', () => {
    expect(applyRetention(root, loadConfig({}), now)).toEqual([]);
  });
});

describe('binlogs for point-in-time restore (backup.pitr)', () => {
  const node = { component: 'mariadb' as const, ordinal: 1, name: 'mariadb-1', port: 3307 };
  it('Galera: log_bin outside the data dir, per-node server_id and gtid_domain_id, one wsrep_gtid_domain_id', () => {
    const cnf = renderLocalMyCnf(loadConfig({ set: ['backup.pitr=true', 'mariadb.replicas=3'] }), node, '/s/mariadb/mariadb-1', 'root');
    for (const l of [
      'server_id = 2',
      'log_bin = /s/mariadb/mariadb-1/binlog/mariadb-bin',
      'log_slave_updates = ON',
      'gtid_domain_id = 2',
      'wsrep_gtid_mode = ON',
      'wsrep_gtid_domain_id = 100',
    ])
      expect(cnf).toContain(l);
  });
  it('off by default', () => {
    expect(renderLocalMyCnf(loadConfig({}), node, '/s', 'root')).not.toContain('log_bin');
  });
});
