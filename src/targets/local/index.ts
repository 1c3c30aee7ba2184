import { describeEndpoints } from '../../components/index.js';
import type { Outcome, Target, TargetSources } from '../../model/target.js';
import { formatBytes, formatDuration, table } from '../../util/format.js';
import { serviceEndpointsText, servicesObject } from '../../openstack/service-endpoints.js';
import { deployedComponents, openDeployment } from './context.js';
import type { DeployResult } from './deploy.js';
import { localEndpoints } from './endpoints.js';
import type { NodeStatus } from './status.js';

const lines = (...l: (string | false | undefined)[]) => l.filter((x): x is string => typeof x === 'string').join('\n');

/** The local target: real daemons on this host, under the state dir. */
export function localTarget(src: TargetSources): Target {
  return {
    kind: 'local',

    async deploy(req): Promise<Outcome> {
      const t0 = Date.now();
      // Each command loads only its own module (and what that needs: child processes, sockets): `osb endpoints`
      // pays for none of it (docs/performance.md).
      const { deployLocal } = await import('./deploy.js');
      const result = await deployLocal({ ...src, components: req.components, progress: req.progress });
      const seconds = ((Date.now() - t0) / 1000).toFixed(1);
      const rows = [['COMPONENT', 'NODE', 'LISTENS ON', 'PID', 'RESULT']];
      for (const c of result.components)
        for (const n of c.nodes) rows.push([c.component, n.name, n.address, String(n.pid), n.action + (n.reason ? ` (${n.reason})` : '')]);
      return {
        exitCode: 0,
        json: {
          changed: result.changed,
          stateDir: result.stateDir,
          components: result.components,
          provisioning: result.provisioning,
          supervision: result.supervision,
          schedules: result.schedules,
          ...(result.scheduleChange ? { scheduleChange: result.scheduleChange } : {}),
        },
        text: lines(
          (!req.quiet || result.changed) && table(rows),
          !!result.provisioning?.length &&
            `OpenStack services: ${result.provisioning.map((p) => `${p.service} ${p.changed ? 'provisioned' : 'unchanged'}`).join(', ')}`,
          ...scheduleLines(result, req.quiet),
          result.changed ? `deployed in ${seconds}s (state: ${result.stateDir})` : `no change: everything already deployed as configured (${seconds}s)`,
        ),
      };
    },

    async status(req): Promise<Outcome> {
      const d = openDeployment(src);
      const { localStatus } = await import('./status.js');
      const { report, extraLines } = await localStatus(d, req.components.length ? req.components : undefined);
      const rows = [['COMPONENT', 'NODE', 'STATE', 'PID', 'ADDRESS', 'VERSION', 'UPTIME', 'DATA', 'RESTARTS', 'CHECK']];
      for (const c of report.components) {
        for (const n of c.nodes) {
          const state = !n.running ? 'DOWN' : (n.state ?? 'running');
          const restarts = n.supervision ? String(n.supervision.restarts) : '-';
          rows.push([
            c.component,
            n.name,
            state,
            n.pid ? String(n.pid) : '-',
            n.address,
            n.version ?? '-',
            formatDuration(n.uptimeSeconds),
            formatBytes(n.dataBytes),
            restarts,
            n.healthy ? 'ok' : (n.error ?? 'failed'),
          ]);
        }
      }
      const supervision = report.supervision as { kind: string; reason: string } | undefined;
      return {
        exitCode: report.healthy ? 0 : 1,
        json: report,
        text: lines(
          table(rows),
          ...report.components.map((c) => `${c.component}: ${c.summary}`),
          ...extraLines,
          ...certificateLines(report.components.flatMap((c) => c.nodes)),
          supervision && `supervision: ${supervision.kind === 'systemd' ? 'systemd' : 'none'} — ${supervision.reason}`,
          report.healthy ? 'all healthy' : 'NOT healthy: run `osb deploy` to start what is down, `osb logs <component>` to see why',
        ),
      };
    },

    async test(req): Promise<Outcome> {
      const d = openDeployment(src);
      const { localSmokeSuites, runSmokeSuites } = await import('./smoke.js');
      const suites = localSmokeSuites(d, req.components.length ? req.components : undefined);
      const results = await runSmokeSuites(suites, req.onLine);
      const failed = results.filter((r) => !r.ok);
      return {
        exitCode: failed.length ? 1 : 0,
        json: results,
        text: failed.length ? `FAILED: ${failed.length} of ${results.length} steps` : `passed: ${results.length} steps on ${suites.length} node(s)`,
      };
    },

    async endpoints(req): Promise<Outcome> {
      const d = openDeployment(src);
      // Only what this deployment runs: `osb deploy memcached` alone gives no broker address.
      const eps = localEndpoints(d.config, d.secrets, d.stateDir, deployedComponents(d));
      if (req.service) return { exitCode: 0, json: undefined, text: serviceEndpointsText(d, eps, req.service, req.format) };
      const services = d.config.openstack.provision ? servicesObject(d, eps) : undefined;
      return {
        exitCode: 0,
        json: { ...eps, ...(services ? { services } : {}) },
        text: lines(...describeEndpoints(eps), 'passwords: osb endpoints --json; per service: osb endpoints --service NAME --format oslo'),
      };
    },

    async destroy(req): Promise<Outcome> {
      const { destroyLocal } = await import('./destroy.js');
      const r = await destroyLocal({ stateDir: src.stateDir, components: req.components, keepData: req.keepData, progress: req.progress });
      return {
        exitCode: 0,
        json: r,
        text: r.nothingDeployed
          ? `nothing deployed in ${r.stateDir}`
          : `stopped: ${r.stopped.length ? r.stopped.join(', ') : 'nothing was running'}; ${req.keepData ? 'data kept' : `removed: ${r.removed.length} path(s)`}`,
      };
    },

    async restore(req): Promise<Outcome> {
      const { restoreBackup } = await import('./backup.js');
      const r = await restoreBackup({
        ...src,
        backup: req.backup,
        toTime: req.toTime,
        services: req.services,
        replace: req.replace,
        progress: req.progress,
        report: req.log,
      });
      if (r.kind === 'logical')
        return {
          exitCode: r.ok ? 0 : 1,
          json: r,
          text: lines(
            `loaded ${r.services.join(', ')} from ${r.id} into ${r.stateDir} in ${r.seconds.toFixed(1)}s`,
            r.ok ? 'checked: tables, row counts and checksums match the backup' : `CHECK FAILED: ${r.problems.join('; ')}`,
          ),
        };
      return { exitCode: 0, json: r, text: `restored ${r.id} (${r.components.join(', ')}) into ${r.stateDir} in ${r.seconds.toFixed(1)}s` };
    },
  };
}

/** TLS on: each node's certificate expiry on one line, and a warning line per node within 30 days of it. */
function certificateLines(nodes: NodeStatus[]): string[] {
  const withCert = nodes.filter((n) => n.certificate);
  if (!withCert.length) return [];
  return [
    `certificates: ${withCert.map((n) => `${n.name} until ${n.certificate!.notAfter.slice(0, 10)} (${n.certificate!.daysLeft}d)`).join(', ')}`,
    ...withCert.filter((n) => n.certificate!.warning).map((n) => `WARNING: ${n.name}: ${n.certificate!.warning}`),
  ];
}

/** After a deploy under systemd: the timers it runs (and what changed); without systemd the crontab lines went to stderr. */
function scheduleLines(r: DeployResult, quiet?: boolean): string[] {
  const ch = r.scheduleChange;
  if (!ch) return [];
  const out: string[] = [];
  if ((!quiet || ch.installed.length) && r.schedules.length)
    out.push(`timers: ${r.schedules.map((s) => `${s.timer} (${s.onCalendar.join(' or ')}${ch.installed.includes(s.job) ? ', installed' : ''})`).join(', ')}`);
  if (ch.removed.length) out.push(`timers removed: ${ch.removed.join(', ')} (no longer in the config)`);
  return out;
}
