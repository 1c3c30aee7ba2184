import type { SmokeStep } from '../../model/smoke.js';
import { withMariadb, type MariadbEndpoint } from './client.js';
import { crypto } from '../../util/builtin.js';

/** `helm test` for MariaDB: create a table, write, read back, drop — over TCP as a client would. */
export function mariadbSmokeSteps(ep: MariadbEndpoint): SmokeStep[] {
  const table = `osb_smoke_${crypto().randomBytes(4).toString('hex')}`;
  const value = crypto().randomBytes(8).toString('hex');
  const db = 'osb_smoke';
  const run = <T>(fn: Parameters<typeof withMariadb<T>>[1]) => withMariadb({ ...ep }, fn);
  return [
    { name: `connect to ${ep.host}:${ep.port} as ${ep.user}`, run: async () => run(async (c) => void (await c.query('SELECT 1'))) },
    {
      name: `create table ${db}.${table}`,
      run: () =>
        run(async (c) => {
          await c.query(`CREATE DATABASE IF NOT EXISTS ${db}`);
          await c.query(`CREATE TABLE ${db}.${table} (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(64) NOT NULL) ENGINE=InnoDB`);
        }),
    },
    { name: 'write a row', run: () => run(async (c) => void (await c.query(`INSERT INTO ${db}.${table} (v) VALUES (?)`, [value]))) },
    {
      name: 'read it back',
      run: () =>
        run(async (c) => {
          const [rows] = (await c.query(`SELECT v FROM ${db}.${table}`)) as unknown as [{ v: string }[]];
          if (rows.length !== 1 || rows[0]!.v !== value) throw new Error(`read ${JSON.stringify(rows)}, wrote ${value}`);
        }),
    },
    {
      name: 'drop table',
      run: () =>
        run(async (c) => {
          await c.query(`DROP TABLE ${db}.${table}`);
          const [left] = (await c.query(`SHOW TABLES FROM ${db}`)) as unknown as [unknown[]];
          if (left.length === 0) await c.query(`DROP DATABASE ${db}`);
        }),
    },
  ];
}
