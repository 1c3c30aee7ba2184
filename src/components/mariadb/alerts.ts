import type { Config } from '../../config/schema.js';
import { type AlertOptions, type RuleGroup, rule } from '../../model/metrics.js';
import { HAPROXY_JOB, MARIADB_JOB } from './metrics.js';

const j = `job="${MARIADB_JOB}"`;
const labels = (severity: 'critical' | 'warning') => ({ severity, component: 'mariadb' as const });

/**
 * Alert rules of MariaDB (mysqld-exporter) and, for a Galera cluster, of Galera and of the
 * single-writer HAProxy. Thresholds follow the config: a 3-node cluster expects 3.
 */
export function mariadbAlertRules(config: Config, opts: AlertOptions = {}): RuleGroup[] {
  const m = config.mariadb;
  if (!m.enabled) return [];
  const n = m.replicas;
  const rules = [
    rule(
      {
        alert: 'MariadbDown',
        expr: `mysql_up{${j}} == 0 or up{${j}} == 0`,
        forSeconds: 60,
        labels: labels('critical'),
        annotations: {
          summary: 'MariaDB {{ $labels.node }} does not answer: run `osb status`, then `osb deploy mariadb` to start it again',
          description:
            'The exporter of {{ $labels.node }} cannot reach its server (mysql_up 0) or cannot be scraped itself. ' +
            'Look at `osb logs mariadb --node {{ $labels.ordinal }}` for the reason; `osb deploy mariadb` starts a dead node again' +
            (n > 1
              ? ' and it rejoins the cluster by IST; if the whole cluster stopped and deploy refuses to choose, `osb recover --force-bootstrap mariadb-N`.'
              : '.'),
        },
      },
      opts,
    ),
  ];
  if (n > 1) {
    rules.push(
      rule(
        {
          alert: 'GaleraNotPrimary',
          expr: `mysql_global_status_wsrep_cluster_status{${j}} != 1`,
          forSeconds: 30,
          labels: labels('critical'),
          annotations: {
            summary: 'Galera node {{ $labels.node }} is not in the Primary component and refuses queries: run `osb status`',
            description:
              'wsrep_cluster_status is non-Primary or Disconnected: the node lost contact with a majority of the cluster. ' +
              `With ${n} nodes at least ${Math.floor(n / 2) + 1} must see each other. Start stopped nodes with \`osb deploy mariadb\`; ` +
              'if every node is down or non-Primary, `osb deploy mariadb` picks the most advanced node, or asks for `osb recover --force-bootstrap mariadb-N`.',
          },
        },
        opts,
      ),
      rule(
        {
          alert: 'GaleraClusterSizeBelowConfigured',
          expr: `mysql_global_status_wsrep_cluster_size{${j}} < ${n}`,
          forSeconds: 60,
          labels: labels('warning'),
          annotations: {
            summary: `Galera cluster has {{ $value }} of ${n} nodes (seen from {{ $labels.node }}): run \`osb status\` and \`osb deploy mariadb\``,
            description:
              `The cluster is configured with mariadb.replicas=${n} but only {{ $value }} nodes are members. ` +
              'One more failure may cost the majority. `osb status` shows the missing node, `osb logs mariadb --node N` why it left; ' +
              '`osb deploy mariadb` starts it again and it catches up by IST.',
          },
        },
        opts,
      ),
      rule(
        {
          alert: 'GaleraNodeNotSynced',
          expr: `mysql_global_status_wsrep_local_state{${j}} != 4`,
          forSeconds: 120,
          labels: labels('warning'),
          annotations: {
            summary: 'Galera node {{ $labels.node }} is not Synced (wsrep_local_state {{ $value }}): check `osb logs mariadb --node {{ $labels.ordinal }}`',
            description:
              'States: 1 Joining, 2 Donor/Desynced, 3 Joined, 4 Synced. HAProxy sends no traffic to a node that is not Synced. ' +
              'A short Joiner/Donor phase during a state transfer is normal; if it lasts, read `osb logs mariadb --node {{ $labels.ordinal }}` ' +
              'and restart the node with `osb restart mariadb --rolling`.',
          },
        },
        opts,
      ),
      rule(
        {
          alert: 'GaleraFlowControlPaused',
          expr: `rate(mysql_global_status_wsrep_flow_control_paused_ns{${j}}[2m]) / 1e9 > 0.25`,
          forSeconds: 300,
          labels: labels('warning'),
          annotations: {
            summary:
              'Galera replication on {{ $labels.node }} is paused by flow control {{ $value | humanizePercentage }} of the time: find the slow node with `osb status`',
            description:
              'Flow control stops every writer in the cluster while one node catches up on its apply queue. ' +
              'The slow node usually has a busy disk or CPU, or a long-running query; `osb status` and `osb logs mariadb --node N` show it. ' +
              'Writes are slow for every OpenStack service until it clears.',
          },
        },
        opts,
      ),
    );
  }
  // The single-writer HAProxy exists only on the local target (Kubernetes: Service mariadb-writer).
  if (n > 1 && opts.target !== 'kubernetes') {
    rules.push(
      rule(
        {
          alert: 'HaproxyNoHealthyWriter',
          expr:
            `(haproxy_backend_active_servers{job="${HAPROXY_JOB}",proxy="mariadb"} + haproxy_backend_backup_servers{job="${HAPROXY_JOB}",proxy="mariadb"}) < 1` +
            ` or up{job="${HAPROXY_JOB}"} == 0`,
          forSeconds: 30,
          labels: labels('critical'),
          annotations: {
            summary: 'The database proxy has no healthy Galera node to send writes to: every OpenStack service is failing; run `osb status`',
            description:
              'HAProxy passes only nodes that are Synced and Primary; none is (or HAProxy itself is not answering). ' +
              '`osb status` shows each node; `osb deploy mariadb` starts dead nodes and the proxy; ' +
              'if the cluster is fully stopped and deploy refuses to choose, `osb recover --force-bootstrap mariadb-N`.',
          },
        },
        opts,
      ),
    );
  }
  return [{ name: 'osb-mariadb', rules }];
}
