/**
 * Unit rendering of src/targets/local/systemd.ts: names, quoting, foreground conversion, sandbox.
 * (The same units run under a real systemd in test/integration/systemd-supervision.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { mariadbLocalInstance } from '../../src/components/mariadb/local.js';
import { memcachedLocalInstance } from '../../src/components/memcached/local.js';
import { rabbitmqLocalInstance } from '../../src/components/rabbitmq/local.js';
import { loadConfig } from '../../src/components/index.js';
import { proxyInstance } from '../../src/components/mariadb/local-proxy.js';
import { desiredState } from '../../src/model/desired.js';
import {
  deploymentId,
  execLine,
  foreground,
  instanceServiceSpec,
  lingerHint,
  parseShow,
  renderDeploymentUnits,
  renderService,
  serviceName,
  targetName,
  unitDir,
  type UnitContext,
} from '../../src/targets/local/systemd.js';

const config = loadConfig({ set: ['rabbitmq.replicas=1', 'mariadb.replicas=1'] });
const secrets = { mariadbAdminPassword: 'p', rabbitmqAdminPassword: 'p', erlangCookie: 'c', mariadbExporterPassword: 'e', services: {} };
const nodes = desiredState(config).components;

function deployment(stateDir: string) {
  return [
    memcachedLocalInstance(config, nodes.memcached![0]!, `${stateDir}/memcached/memcached-0`),
    mariadbLocalInstance(config, nodes.mariadb![0]!, `${stateDir}/mariadb/mariadb-0`, secrets),
    rabbitmqLocalInstance(config, nodes.rabbitmq![0]!, `${stateDir}/rabbitmq/rabbitmq-0`, secrets),
  ];
}

const line = (unit: string, key: string) => unit.split('\n').filter((l) => l.startsWith(`${key}=`));

describe('systemd unit names', () => {
  it('derive from the state dir, so two deployments never share a unit', () => {
    const a = renderDeploymentUnits(deployment('/srv/a'), { stateDir: '/srv/a', scope: 'system' });
    const b = renderDeploymentUnits(deployment('/srv/b'), { stateDir: '/srv/b', scope: 'system' });
    const names = (us: typeof a) => us.map((u) => u.name);
    expect(names(a).filter((n) => names(b).includes(n))).toEqual([]);
    expect(deploymentId('/srv/a')).toMatch(/^[0-9a-f]{8}$/);
    expect(deploymentId('/srv/a/')).toBe(deploymentId('/srv/a'));
    expect(serviceName('/srv/a', 'mariadb-0')).toBe(`osb-${deploymentId('/srv/a')}-mariadb-0.service`);
    expect(targetName('/srv/a')).toBe(`osb-${deploymentId('/srv/a')}.target`);
    // one unit per node, one for the shared epmd helper, one target
    expect(names(a).map((n) => n.replace(/^osb-[0-9a-f]{8}-?/, ''))).toEqual([
      'epmd-4672.service',
      'memcached-0.service',
      'mariadb-0.service',
      'rabbitmq-0.service',
      '.target',
    ]);
    expect(serviceName('/x', 'odd name/é')).toBe(`osb-${deploymentId('/x')}-odd\\x20name\\x2f\\xc3\\xa9.service`);
  });

  it('system units for root under /etc, user units under ~/.config with the linger hint', () => {
    expect(unitDir('system')).toBe('/etc/systemd/system');
    expect(unitDir('user', '/home/u')).toBe('/home/u/.config/systemd/user');
    expect(lingerHint('alice')).toContain('loginctl enable-linger alice');
    const [epmd] = renderDeploymentUnits(deployment('/home/u/.local/state/osb'), { stateDir: '/home/u/.local/state/osb', scope: 'user' }, '/home/u');
    expect(epmd!.path.startsWith('/home/u/.config/systemd/user/')).toBe(true);
    expect(epmd!.content).toContain('PrivateUsers=yes');
    const target = renderDeploymentUnits(deployment('/srv/a'), { stateDir: '/srv/a', scope: 'user' }).at(-1)!;
    expect(line(target.content, 'WantedBy')).toEqual(['WantedBy=default.target']);
  });
});

describe('systemd service units', () => {
  const ctx: UnitContext = { stateDir: '/var/lib/osb', scope: 'system' };
  const [mc, db, rabbit] = deployment('/var/lib/osb');

  it('run each daemon in the foreground with the type that fits it', () => {
    const proxy = proxyInstance(loadConfig({ set: ['mariadb.replicas=3'] }), '/var/lib/osb', secrets);
    const haproxy = foreground(proxy);
    expect(haproxy.argv[1]).toBe('-Ws');
    expect(haproxy.argv).not.toContain('-D');
    expect(haproxy.type).toBe('notify');
    expect(foreground(mc!).argv).not.toContain('-d');
    expect(foreground(rabbit!.helpers![0]!).argv).not.toContain('-daemon');
    expect(instanceServiceSpec(db!, ctx).type).toBe('notify');
    expect(instanceServiceSpec(rabbit!, ctx).type).toBe('notify');
  });

  it('restart on failure with a back-off and a start limit; sandbox limited to the node dir', () => {
    const unit = renderService(instanceServiceSpec(db!, ctx), ctx);
    expect(line(unit, 'Restart')).toEqual(['Restart=always']);
    expect(line(unit, 'RestartSec')).toEqual(['RestartSec=2']);
    expect(line(unit, 'StartLimitBurst')).toEqual(['StartLimitBurst=5']);
    expect(line(unit, 'ProtectSystem')).toEqual(['ProtectSystem=strict']);
    expect(line(unit, 'ReadWritePaths')).toEqual(['ReadWritePaths=/var/lib/osb/mariadb/mariadb-0']);
    expect(line(unit, 'ProtectHome')).toEqual(['ProtectHome=yes']);
    expect(line(unit, 'LimitNOFILE')).toEqual(['LimitNOFILE=32768']);
    expect(line(unit, 'PartOf')).toEqual([`PartOf=${targetName('/var/lib/osb')}`]);
    expect(line(unit, 'WantedBy')).toEqual([`WantedBy=${targetName('/var/lib/osb')}`]);
    // a state dir under a home stays reachable
    const home: UnitContext = { stateDir: '/root/.local/state/osb', scope: 'system' };
    const [hm] = deployment('/root/.local/state/osb');
    expect(line(renderService(instanceServiceSpec(hm!, home), home), 'ProtectHome')).toEqual(['ProtectHome=read-only']);
  });

  it('RabbitMQ waits for its epmd unit and carries its environment, quoted', () => {
    const unit = renderService(instanceServiceSpec(rabbit!, ctx), ctx);
    const epmd = serviceName('/var/lib/osb', rabbit!.helpers![0]!.name);
    expect(line(unit, 'After')).toEqual([`After=${epmd}`]);
    expect(line(unit, 'Wants')).toEqual([`Wants=${epmd}`]);
    expect(unit).toContain('Environment="RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=-kernel inet_dist_use_interface {127,0,0,1}"');
    expect(line(unit, 'LimitNOFILE')).toEqual(['LimitNOFILE=65536']);
  });

  it('ExecStart words keep $ and % literal; the console is tee-d into the node log', () => {
    expect(execLine(['/bin/x', 'a b', '100%', '$HOME', 'q"'])).toBe('/bin/x "a b" 100%% $$HOME "q\\""');
    const unit = renderService(instanceServiceSpec(mc!, ctx), ctx);
    expect(line(unit, 'ExecStart')[0]).toContain(`tee -a ${mc!.consoleLog}`);
    expect(line(unit, 'ExecStart')[0]).toContain('exec \\"$$0\\" \\"$$@\\"');
  });

  it('with the node entrypoint: prepare before the daemon, or run as the main process', () => {
    const ep = { node: '/usr/bin/node', bundle: '/opt/osb/osb.mjs' };
    const pre: UnitContext = { ...ctx, entrypoint: ep };
    const unit = renderService(instanceServiceSpec(db!, pre), pre);
    expect(line(unit, 'ExecStartPre')).toEqual(['ExecStartPre=/usr/bin/node /opt/osb/osb.mjs node prepare --state-dir /var/lib/osb mariadb-0']);
    const run: UnitContext = { ...ctx, entrypoint: { ...ep, mode: 'run' } };
    const runUnit = renderService(instanceServiceSpec(db!, run), run);
    expect(line(runUnit, 'ExecStart')[0]).toContain('/usr/bin/node /opt/osb/osb.mjs node run --state-dir /var/lib/osb mariadb-0');
    expect(line(runUnit, 'NotifyAccess')).toEqual(['NotifyAccess=all']);
  });

  it('refuses an environment variable that looks like a secret (unit files are world-readable)', () => {
    const spec = { ...instanceServiceSpec(mc!, ctx), env: { DB_PASSWORD: 'x' } };
    expect(() => renderService(spec, ctx)).toThrow(/DB_PASSWORD looks like a secret/);
  });

  it('parses systemctl show', () => {
    expect(parseShow('u', 'ActiveState=active\nSubState=running\nResult=success\nNRestarts=1\nMainPID=42\nExecMainStatus=0\nLoadState=loaded\n')).toEqual({
      unit: 'u',
      activeState: 'active',
      subState: 'running',
      result: 'success',
      nRestarts: 1,
      mainPid: 42,
      execMainStatus: 0,
      loadState: 'loaded',
    });
  });
});
