import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/components/index.js';
import { toYaml } from '../../src/k8s/yaml.js';
import { renderObjects } from '../../src/targets/kubernetes/render.js';
import { FIXED_SECRETS } from './kubernetes-fixtures.js';

/** What render wrote before k8s/yaml.ts, and still must write byte for byte. */
const jsYaml = (v: unknown) => dump(v, { lineWidth: -1, noRefs: true });

const CONFIGS: string[][] = [
  [],
  ['rabbitmq.replicas=3', 'mariadb.replicas=3', 'memcached.replicas=3'],
  ['mariadb.replicas=3', 'backup.schedule=@daily', 'backup.pitr=true'],
  ['metrics.enabled=false', 'mariadb.volume.enabled=false', 'rabbitmq.volume.storageClass=fast', 'openstack.services={keystone,nova}'],
  ['metrics.prometheusOperator=true', 'mariadb.image=registry.example/mariadb:11.4', 'rabbitmq.memoryHighWatermark=0.6'],
];

// Strings that sit on every edge of js-yaml's choice of style.
const STRINGS = [
  '',
  ' ',
  'a',
  'y',
  'Y',
  'n',
  'no',
  'No',
  'NO',
  'yes',
  'on',
  'ON',
  'off',
  'Off',
  'true',
  'True',
  'TRUE',
  'false',
  'null',
  'Null',
  'NULL',
  '~',
  'nully',
  'onward',
  'yesterday',
  'Truex',
  '0',
  '12',
  '-1',
  '+1',
  '1.5',
  '1e3',
  '0x1F',
  '0o17',
  '0b101',
  '1_000',
  '.inf',
  '-.inf',
  '.nan',
  '.5',
  '12:30',
  '1:2:3',
  '2026-11-27',
  '2026-11-27T20:00:00Z',
  '<<',
  '=',
  '-',
  '--',
  '---',
  '-a',
  '?',
  '?a',
  ':',
  'a:',
  'a:b',
  'a: b',
  'a #b',
  'a#b',
  '#a',
  '&a',
  '*a',
  '!a',
  '|a',
  '>a',
  "'a",
  '"a',
  '%a',
  '@a',
  '`a',
  'a,b',
  '[a]',
  '{a}',
  'a b',
  'a ',
  ' a',
  'a\tb',
  'a\nb',
  'a\n',
  'a\n\n',
  '\n',
  '\na',
  ' a\nb',
  'a\n  b\n',
  'line 1\nline 2\n\nline 4',
  '#!/bin/sh\nset -e\n  exec "$@"\n',
  'x\r\ny',
  'tab\there',
  'caf\u00e9',
  '\u00e9t\u00e9',
  'emoji \u{1F600}',
  '\u2028',
  'a\u0085b',
  'a'.repeat(1100),
  `k${'v'.repeat(1030)}`,
  'app.kubernetes.io/name',
  'mariadb:11.4',
  'sha256:abc',
  'http://x:1/a',
  'C:\\path',
  "it's",
  'say "hi"',
  '\\n',
  'a\\',
  'osb-mariadb-0.osb-mariadb.openstack.svc.cluster.local',
];

describe('k8s/yaml.ts writes what js-yaml writes', () => {
  it('for every object osb renders, in five configurations', () => {
    let n = 0;
    for (const set of CONFIGS) {
      for (const o of renderObjects(loadConfig({ set }), FIXED_SECRETS(), {})) {
        expect(toYaml(o), `${o.kind}/${o.metadata.name} with ${set.join(' ')}`).toBe(jsYaml(o));
        n++;
      }
    }
    expect(n).toBeGreaterThan(150);
  });

  it('for strings on every edge of its style choice, as values, items and keys, at several depths', () => {
    for (const s of STRINGS) {
      for (const v of [s, { s }, [s], { a: { b: [s, { c: s }] } }, [[s]], [{ k: s, l: [s] }], { [s]: 1 }, { a: { [s]: s } }, [{ [s]: [s] }]])
        expect(toYaml(v), JSON.stringify(v).slice(0, 80)).toBe(jsYaml(v));
    }
  });

  it('for 20,000 random strings over the characters that decide the style (seeded)', () => {
    let seed = 16;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const wide = 'aZy0 ._/:+=$()@,%-#\'"\n\t\r~!&*|>?[]{}`\u00e9\u2028';
    const plainish = 'aoNy0/ :.-=,\n';
    for (let i = 0; i < 20_000; i++) {
      const alphabet = i % 2 ? wide : plainish;
      let s = '';
      for (let j = rand(12); j >= 0; j--) s += alphabet[rand(alphabet.length)];
      for (const v of [{ k: s }, [s], { a: { [s]: [s] } }]) expect(toYaml(v), JSON.stringify(s)).toBe(jsYaml(v));
    }
  });

  it('for the other kinds of value: numbers, booleans, null, undefined, empty collections, a Date', () => {
    const values: unknown[] = [
      0,
      -0,
      1,
      -1,
      1.5,
      -2.25,
      1e21,
      1e-7,
      2 ** 53,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      true,
      false,
      null,
      {},
      [],
      { a: {} },
      { a: [] },
      [{}],
      [[]],
      { a: undefined, b: 1 },
      { a: undefined },
      [undefined, 1],
      { d: new Date(0) },
      new Date(0),
      { a: null, b: [null, true, 3, 'x'], c: { d: { e: { f: [1, [2, [3, { g: 'h' }]]] } } } },
    ];
    for (const v of values) expect(toYaml(v), String(v)).toBe(jsYaml(v));
    expect(toYaml(undefined)).toBe(jsYaml(undefined));
  });
});
