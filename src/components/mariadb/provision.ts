import { ident, withMariadb, type MariadbEndpoint } from './client.js';

export interface DatabaseGrant {
  user: string;
  password: string;
  databases: string[];
}

/**
 * Creates the databases (utf8mb4) and a user with privileges on exactly those databases.
 * Idempotent; returns whether anything changed.
 */
export async function ensureDatabaseGrant(admin: MariadbEndpoint, g: DatabaseGrant): Promise<boolean> {
  return withMariadb(admin, async (c) => {
    let changed = false;
    for (const db of g.databases) {
      const [rows] = (await c.query('SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [db])) as unknown as [unknown[]];
      if (rows.length === 0) {
        await c.query(`CREATE DATABASE IF NOT EXISTS ${ident(db)} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
        changed = true;
      }
    }
    const [users] = (await c.query("SELECT authentication_string = PASSWORD(?) AS same FROM mysql.user WHERE User = ? AND Host = '%'", [
      g.password,
      g.user,
    ])) as unknown as [{ same: number }[]];
    if (users.length === 0) {
      await c.query("CREATE USER ?@'%' IDENTIFIED BY ?", [g.user, g.password]);
      changed = true;
    } else if (!users[0]!.same) {
      await c.query("ALTER USER ?@'%' IDENTIFIED BY ?", [g.user, g.password]);
      changed = true;
    }
    const [grants] = (await c.query(
      "SELECT Db FROM mysql.db WHERE User = ? AND Host = '%' AND Select_priv = 'Y' AND Insert_priv = 'Y' AND Create_priv = 'Y' AND Alter_priv = 'Y' AND Drop_priv = 'Y' AND Index_priv = 'Y' AND References_priv = 'Y'",
      [g.user],
    )) as unknown as [{ Db: string }[]];
    const granted = new Set(grants.map((r) => r.Db));
    for (const db of g.databases) {
      if (!granted.has(db)) {
        await c.query(`GRANT ALL PRIVILEGES ON ${ident(db)}.* TO ?@'%'`, [g.user]);
        changed = true;
      }
    }
    return changed;
  });
}

/** Drops the databases and the user. */
export async function dropDatabaseGrant(admin: MariadbEndpoint, user: string, databases: string[]): Promise<void> {
  await withMariadb(admin, async (c) => {
    for (const db of databases) await c.query(`DROP DATABASE IF EXISTS ${ident(db)}`);
    await c.query("DROP USER IF EXISTS ?@'%'", [user]);
  });
}
