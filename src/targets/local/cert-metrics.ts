import { existsSync } from 'node:fs';
import type { Config } from '../../config/schema.js';
import { nodeDir } from '../../config/state-dir.js';
import { nodeTlsFiles, readCert } from '../../config/tls.js';
import { desiredState } from '../../model/desired.js';
import type { ComponentName } from '../../config/schema.js';
import { renderCertExpiryTextfile } from '../../model/metrics.js';

/**
 * `osb metrics --textfile`: the expiry of every node certificate in the state dir, read from the
 * files the daemons load (the same reading as `osb status`), in Prometheus text format for
 * node_exporter's textfile collector. A node without a certificate file is left out.
 */
export function certExpiryTextfile(config: Config, stateDir: string): string {
  const desired = desiredState(config);
  const certs: { component: ComponentName; node: string; notAfter: Date }[] = [];
  for (const [component, nodes] of Object.entries(desired.components) as [ComponentName, { name: string }[]][]) {
    for (const n of nodes ?? []) {
      const file = nodeTlsFiles(nodeDir(stateDir, component, n.name)).cert;
      if (existsSync(file)) certs.push({ component, node: n.name, notAfter: readCert(file).notAfter });
    }
  }
  return renderCertExpiryTextfile(certs);
}
