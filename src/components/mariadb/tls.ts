import type { Config } from '../../config/schema.js';
import type { NodeTlsFiles } from '../../config/tls.js';

/**
 * MariaDB's TLS settings on the local target, from one node's certificate files. Client TLS in
 * [mysqld]; `tls.require` = require_secure_transport (the unix socket still counts as secure, so
 * the HAProxy health check, mariabackup and osb's own socket sessions keep working).
 */
export function mariadbServerTlsLines(config: Config, f: NodeTlsFiles): string[] {
  if (!config.tls.enabled) return [];
  return [`ssl_ca = ${f.ca}`, `ssl_cert = ${f.cert}`, `ssl_key = ${f.key}`, ...(config.tls.require ? ['require_secure_transport = ON'] : [])];
}

/**
 * Galera replication (group communication and IST) over TLS. Peers verify each other against the
 * CA; `socket.ssl_reload=1` (set at runtime) re-reads the files after a rotation.
 */
export function galeraTlsOptions(config: Config, f: NodeTlsFiles): string {
  return config.tls.enabled ? `;socket.ssl=YES;socket.ssl_ca=${f.ca};socket.ssl_cert=${f.cert};socket.ssl_key=${f.key}` : '';
}

/**
 * mariabackup SST over TLS, as Debian's wsrep_sst_mariabackup reads it: `encrypt = 3` streams
 * through socat's openssl with cert/key, and the CA file makes each side verify the other
 * (the donor checks the joiner's name: "localhost" for a local address — it is in the SANs).
 */
export function sstTlsLines(config: Config, f: NodeTlsFiles): string[] {
  return config.tls.enabled ? ['encrypt = 3', `tca = ${f.ca}`, `tcert = ${f.cert}`, `tkey = ${f.key}`] : [];
}
