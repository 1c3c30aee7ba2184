import type { ComponentName } from '../../config/schema.js';
import { openDeployment } from '../../targets/local/context.js';
import { localStatus } from '../../targets/local/status.js';
import { type GlobalOptions, sources } from '../options.js';
import { formatBytes, formatDuration, print, table } from './format.js';
import { targetOf } from './target.js';
import type { MariadbNodeInfo } from '../../components/mariadb/inspect.js';

export async function statusCommand(components: ComponentName[], o: GlobalOptions): Promise<number> {
  if (targetOf(o) === 'kubernetes') return (await import('./kubernetes.js')).kubernetesStatus(components, o);
  const d = openDeployment(sources(o));
  const report = await localStatus(d, components.length ? components : undefined);
  if (o.json) {
    print(JSON.stringify(report, null, 2));
    return report.healthy ? 0 : 1;
  }
  const rows = [['COMPONENT', 'NODE', 'STATE', 'PID', 'ADDRESS', 'VERSION', 'UPTIME', 'DATA', 'CHECK']];
  for (const c of report.components) {
    for (const n of c.nodes) {
      const g = (n.details as MariadbNodeInfo | undefined)?.galera;
      const state = !n.running ? 'DOWN' : g ? `${g.state}/${g.clusterStatus}` : 'running';
      rows.push([c.component, n.name, state, n.pid ? String(n.pid) : '-', n.address, n.version ?? '-', formatDuration(n.uptimeSeconds), formatBytes(n.dataBytes), n.healthy ? 'ok' : n.error ?? 'failed']);
    }
  }
  print(table(rows));
  for (const c of report.components) print(`${c.component}: ${c.summary}`);
  if (report.proxy) {
    const p = report.proxy;
    const view = p.backends.map((b) => `${b.name}${b.backup ? '(backup)' : ''} ${b.status}`).join(', ');
    print(`mariadb proxy: ${p.running ? `running (pid ${p.pid}) on ${p.address}` : `DOWN (${p.address})`}` + (p.writer ? `, writer ${p.writer}` : '') + (view ? `; backends: ${view}` : '') + (p.error ? ` — ${p.error}` : ''));
  }
  print(report.healthy ? 'all healthy' : 'NOT healthy: run `osb deploy` to start what is down, `osb logs <component>` to see why');
  return report.healthy ? 0 : 1;
}
