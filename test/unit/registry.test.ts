import { describe, expect, it } from 'vitest';
import { definitions, loadConfig, REGISTRY } from '../../src/components/index.js';
import { COMPONENTS } from '../../src/config/schema.js';
import type { Secrets } from '../../src/config/secrets.js';
import { localExtras, localInstances } from '../../src/targets/local/instances.js';

const secrets: Secrets = {
  mariadbAdminPassword: 'a'.repeat(40),
  rabbitmqAdminPassword: 'b'.repeat(40),
  erlangCookie: 'C'.repeat(48),
  mariadbExporterPassword: 'd'.repeat(40),
  services: {},
};

describe('component registry', () => {
  it('has one definition per component, in the order of the config', () => {
    expect(Object.keys(REGISTRY)).toEqual([...COMPONENTS]);
    for (const c of COMPONENTS) expect(REGISTRY[c].name).toBe(c);
  });

  it.each([[1], [3]])('the package step covers every program the local target runs (replicas %i)', (replicas) => {
    const config = loadConfig({ set: COMPONENTS.map((c) => `${c}.replicas=${replicas}`) });
    const runs = new Set<string>();
    for (const [component, list] of localInstances(config, '/state', secrets)) {
      for (const inst of [...list, ...localExtras(config, '/state', secrets, component)]) {
        runs.add(inst.command);
        for (const h of inst.helpers ?? []) runs.add(h.command);
      }
    }
    const shipped = new Set(definitions(config).flatMap((d) => d.packages(config).flatMap((p) => p.binaries)));
    // Galera with 3 nodes runs HAProxy: `osb deploy --set mariadb.replicas=3` on a fresh host must install it.
    if (replicas > 1) expect(runs).toContain('/usr/sbin/haproxy');
    // The memcached exporter is osb itself (`osb exporter memcached`), run by the node binary osb runs on.
    expect(runs).toContain(process.execPath);
    expect([...runs].filter((b) => !shipped.has(b) && b !== process.execPath)).toEqual([]);
  });

  it('every port a node or extra binds is one the registry reports (preflight and port checks see them all)', () => {
    const config = loadConfig({ set: COMPONENTS.map((c) => `${c}.replicas=3`) });
    const reported = new Set(definitions(config).flatMap((d) => d.ports(config).map((p) => p.port)));
    for (const [component, list] of localInstances(config, '/state', secrets)) {
      for (const inst of [...list, ...localExtras(config, '/state', secrets, component)]) {
        for (const p of inst.ports) expect(reported, `${inst.name} port ${p.port} (${p.key})`).toContain(p.port);
      }
    }
  });
});

describe('supervision hooks', () => {
  it('Galera decides its own unattended starts (join or bootstrap); the others need no decision', () => {
    expect(REGISTRY.mariadb.local.prepare).toBeTypeOf('function');
    expect(REGISTRY.mariadb.local.forceBootstrap).toBe(true);
  });
});
