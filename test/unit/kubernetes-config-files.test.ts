import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderTuningCnf } from '../../src/components/mariadb/config.js';
import { MARIADB_TUNING_KEY } from '../../src/components/mariadb/kubernetes.js';
import { memcachedTuningArgs } from '../../src/components/memcached/config.js';
import { RABBITMQ_CONFIGMAP_FILES } from '../../src/components/rabbitmq/kubernetes.js';
import { renderEnabledPlugins, renderRabbitmqConf } from '../../src/components/rabbitmq/config.js';
import { loadConfig } from '../../src/components/index.js';
import { localInstances } from '../../src/targets/local/instances.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

const stateDir = mkdtempSync(join(tmpdir(), 'osb-k8s-files-'));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const CONFIGS: [string, string[]][] = [
  ['default', []],
  ['HA', ['rabbitmq.replicas=3', 'mariadb.replicas=3', 'memcached.replicas=3']],
  [
    'tuned',
    [
      'mariadb.maxConnections=2000',
      'mariadb.innodbBufferPoolMB=1024',
      'rabbitmq.partitionHandling=autoheal',
      'rabbitmq.memoryHighWatermark=0.6',
      'memcached.memoryMB=512',
      'memcached.threads=8',
    ],
  ],
];

describe('kubernetes ConfigMaps hold the files the local target runs', () => {
  for (const [name, set] of CONFIGS) {
    it(`${name}: tuning.cnf, rabbitmq.conf, enabled_plugins and memcached flags equal the local target's`, () => {
      const config = loadConfig({ set });
      const secrets = FIXED_SECRETS();
      const objs = renderObjects(config, secrets, {});
      const data = (n: string) => objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === n)!.data as Record<string, string>;
      const local = localInstances(config, stateDir, secrets);
      const file = (c: 'mariadb' | 'rabbitmq', f: string) => local.get(c)![0]!.files.find((x) => basename(x.path) === f)!.content;

      // The same functions...
      expect(data('mariadb-etc')[MARIADB_TUNING_KEY]).toBe(renderTuningCnf(config.mariadb));
      expect(data('rabbitmq-config')[RABBITMQ_CONFIGMAP_FILES.conf]).toBe(renderRabbitmqConf(config.rabbitmq));
      expect(data('rabbitmq-config')[RABBITMQ_CONFIGMAP_FILES.plugins]).toBe(renderEnabledPlugins(config.metrics.enabled));
      // ...and the very bytes the local target writes for every node.
      for (const inst of local.get('mariadb')!)
        expect(inst.files.find((f) => basename(f.path) === 'tuning.cnf')!.content).toBe(data('mariadb-etc')[MARIADB_TUNING_KEY]);
      expect(file('rabbitmq', 'rabbitmq.conf')).toBe(data('rabbitmq-config')[RABBITMQ_CONFIGMAP_FILES.conf]);
      expect(file('rabbitmq', 'enabled_plugins')).toBe(data('rabbitmq-config')[RABBITMQ_CONFIGMAP_FILES.plugins]);

      const sts = objs.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'memcached') as any;
      const args: string[] = sts.spec.template.spec.containers[0].args;
      const tuning = memcachedTuningArgs(config.memcached);
      expect(args.slice(2)).toEqual(tuning);
      const localArgs = local.get('memcached')![0]!.args;
      const at = localArgs.indexOf(tuning[0]!);
      expect(localArgs.slice(at, at + tuning.length)).toEqual(tuning);
    });
  }

  it("the RabbitMQ definitions Secret holds the local target's definitions.json", () => {
    const config = loadConfig({});
    const secrets = FIXED_SECRETS();
    const s = renderObjects(config, secrets, {}).find((o) => o.metadata.name === 'rabbitmq-credentials')!.data as Record<string, string>;
    const local = localInstances(config, stateDir, secrets)
      .get('rabbitmq')![0]!
      .files.find((f) => basename(f.path) === 'definitions.json')!.content;
    expect(Buffer.from(s['definitions.json']!, 'base64').toString()).toBe(local);
  });
});
