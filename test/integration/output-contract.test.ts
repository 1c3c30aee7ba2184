import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiStandIn } from '../unit/kubernetes-standin.js';
import { cleanup, osb, portBlock, tempStateDir } from '../helpers/osb.js';

/** The schemas of docs/output.md, by the name in the `<!-- schema: NAME -->` line above each block. */
function schemas(): Record<string, object> {
  const doc = readFileSync(resolve(__dirname, '../../docs/output.md'), 'utf8');
  const out: Record<string, object> = {};
  for (const m of doc.matchAll(/<!-- schema: ([a-z-]+) -->\n```json\n([\s\S]*?)\n```/g)) out[m[1]!] = JSON.parse(m[2]!);
  return out;
}
const SCHEMAS = schemas();
const ajv = new Ajv2020({ allErrors: true, strict: false });

function expectValid(name: string, data: unknown): void {
  const schema = SCHEMAS[name];
  expect(schema, `docs/output.md has a schema "${name}"`).toBeDefined();
  const validate = ajv.compile(schema!);
  const ok = validate(data);
  expect(ok, `${name}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(data).slice(0, 600)}`).toBe(true);
}

/** Runs a command with -o json (and, once each, -o yaml: the same data) and validates it. */
async function check(name: string, args: string[], opts: { stateDir: string; env?: Record<string, string> }, codes = [0]): Promise<unknown> {
  const r = await osb([...args, '-o', 'json'], { ...opts, timeoutMs: 600_000 });
  expect(codes, `${args.join(' ')} exit ${r.code}: ${r.stderr.slice(-800)}`).toContain(r.code);
  const data = JSON.parse(r.stdout) as unknown;
  expectValid(name, data);
  return data;
}

describe('docs/output.md: the schemas parse and cover every data command', () => {
  it('has one schema per command and target', () => {
    expect(Object.keys(SCHEMAS).sort()).toEqual(
      ['deploy-kubernetes', 'deploy-local', 'doctor', 'endpoints', 'status-kubernetes', 'status-local', 'test-kubernetes', 'test-local', 'version'].sort(),
    );
    for (const s of Object.values(SCHEMAS)) ajv.compile(s);
  });
});

describe('output contract, local target (real daemons, port block 61)', () => {
  const stateDir = tempStateDir('output');
  afterAll(() => cleanup(stateDir));

  it('deploy, status, test, endpoints, doctor and version validate; -o yaml gives the same data as -o json', async () => {
    await check('deploy-local', ['deploy', ...portBlock(61)], { stateDir });
    const status = await check('status-local', ['status'], { stateDir });
    await check('test-local', ['test'], { stateDir });
    await check('endpoints', ['endpoints'], { stateDir });
    await check('doctor', ['doctor'], { stateDir }, [0, 1]);
    await check('version', ['version'], { stateDir });
    const y = await osb(['endpoints', '-o', 'yaml'], { stateDir });
    const j = await osb(['endpoints', '--json'], { stateDir });
    expect(parseYaml(y.stdout)).toEqual(JSON.parse(j.stdout));
    expect((status as { healthy: boolean }).healthy).toBe(true);
  });

  it('a bad -o value is a usage error (exit 2) naming the choices', async () => {
    const r = await osb(['status', '-o', 'xml'], { stateDir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Allowed choices are table, json, yaml/);
  });
});

describe('output contract, kubernetes target (in-process API stand-in, not a real cluster)', () => {
  let standin: ApiStandIn;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    standin = new ApiStandIn();
    await standin.start();
    dir = mkdtempSync(join(tmpdir(), 'osb-output-k8s-'));
    env = { KUBECONFIG: standin.writeKubeconfig(dir) };
  });
  afterAll(async () => {
    await standin.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('deploy, status, test, endpoints, doctor and version validate', async () => {
    const stateDir = join(dir, 'state');
    const o = { stateDir, env };
    const k = ['--target', 'kubernetes'];
    await check('deploy-kubernetes', ['deploy', ...k, '--set', 'kubernetes.waitTimeoutSeconds=60', '--set', 'mariadb.replicas=3'], o);
    // The stand-in runs no writer controller, so Galera has no writer and status says unhealthy (exit 1): the shape is what counts here.
    await check('status-kubernetes', ['status', ...k], o, [0, 1]);
    await check('test-kubernetes', ['test', ...k], o);
    await check('endpoints', ['endpoints', ...k], o);
    await check('doctor', ['doctor', ...k], o, [0, 1]);
    await check('version', ['version', ...k], o);
  });
});
