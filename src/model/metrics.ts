import { COMPONENTS, type ComponentName, type Config } from '../config/schema.js';

/** One Prometheus alerting rule, as it appears in a rule file. */
export interface AlertRule {
  alert: string;
  expr: string;
  /** Pending duration (`for:`); omitted means the alert fires at the first evaluation that matches. */
  for?: string;
  labels: { severity: 'critical' | 'warning'; component: ComponentName };
  annotations: { summary: string; description: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export interface AlertOptions {
  /**
   * Multiplies every `for:` duration. 1 (default) is what operators run; 0 drops the pending
   * period so a fault-injection test sees an alert within one or two evaluation intervals.
   */
  pendingFactor?: number;
  /**
   * Where the tier runs (default local). On Kubernetes there is no HAProxy (a writer label and a
   * Service instead), so its rule is left out there.
   */
  target?: 'local' | 'kubernetes';
}

/** One scrape target: an exporter (or built-in endpoint) of one node. */
export interface ScrapeTarget {
  job: string;
  component: ComponentName;
  /** `host:port` of the metrics endpoint. */
  address: string;
  metricsPath: string;
  /** URL query parameters (e.g. RabbitMQ's `family=` selection on /metrics/detailed). */
  params?: Record<string, string[]>;
  /** Added to every series of the target: node name (e.g. mariadb-1) and ordinal for `osb logs --node`. */
  labels: { node: string; ordinal: string };
}

/** `host:port` of an address. */
export const hostPort = (a: { host: string; port: number }) => `${a.host}:${a.port}`;

/** `for:` after scaling, or undefined when it scales to nothing. */
export function pending(seconds: number, opts: AlertOptions = {}): string | undefined {
  const s = Math.round(seconds * (opts.pendingFactor ?? 1));
  if (s <= 0) return undefined;
  return s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

/** A rule with `for:` scaled (and dropped when zero). */
export function rule(r: Omit<AlertRule, 'for'> & { forSeconds?: number }, opts: AlertOptions): AlertRule {
  const { forSeconds, ...rest } = r;
  const f = forSeconds ? pending(forSeconds, opts) : undefined;
  return { alert: rest.alert, expr: rest.expr, ...(f ? { for: f } : {}), labels: rest.labels, annotations: rest.annotations };
}

/** Majority of a Raft/Galera group of n members. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** Prometheus `scrape_configs` for the targets: one job per job name, node labels per target. */
export function renderScrapeConfigs(targets: ScrapeTarget[], scrapeInterval?: string): Record<string, unknown>[] {
  const jobs = new Map<string, ScrapeTarget[]>();
  for (const t of targets) jobs.set(t.job, [...(jobs.get(t.job) ?? []), t]);
  return [...jobs.entries()].map(([job, ts]) => ({
    job_name: job,
    ...(scrapeInterval ? { scrape_interval: scrapeInterval } : {}),
    metrics_path: ts[0]!.metricsPath,
    ...(ts[0]!.params ? { params: ts[0]!.params } : {}),
    static_configs: ts.map((t) => ({ targets: [t.address], labels: { component: t.component, ...t.labels } })),
  }));
}

/**
 * Expiry (Unix seconds) of each node certificate, labelled `component` and `node`. No exporter serves
 * certificate dates (docs/metrics.md): osb publishes them itself with `osb metrics --textfile`, for
 * node_exporter's textfile collector.
 */
export const CERT_EXPIRY_METRIC = 'osb_tls_certificate_expiry_timestamp_seconds';
/** Days before expiry the rule warns (as `osb status` does). */
export const CERT_EXPIRY_ALERT_DAYS = 30;

/**
 * The certificate-expiry rule (local target, `tls.enabled`): on the series `osb metrics --textfile`
 * writes. Without that textfile being scraped the series does not exist and the rule cannot fire;
 * docs/metrics.md says so.
 */
export function certExpiryGroups(config: Config, opts: AlertOptions = {}): RuleGroup[] {
  if (!config.tls.enabled || opts.target === 'kubernetes') return [];
  const rules = COMPONENTS.filter((c) => config[c].enabled).map((component) =>
    rule(
      {
        alert: 'OsbCertificateExpiresSoon',
        expr: `(${CERT_EXPIRY_METRIC}{component="${component}"} - time()) < ${CERT_EXPIRY_ALERT_DAYS * 86400}`,
        labels: { severity: 'warning', component },
        annotations: {
          summary: 'The TLS certificate of {{ $labels.node }} has {{ $value | humanizeDuration }} left (negative: expired): run `osb certs rotate`',
          description:
            `Clients refuse the node once its certificate has expired. \`osb certs rotate\` issues new certificates without restarting anything; ` +
            '`osb deploy` also renews one past 2/3 of its lifetime. With your own certificates (tls.certFile), replace the files first.',
        },
      },
      opts,
    ),
  );
  return rules.length ? [{ name: 'osb-certificates', rules }] : [];
}

/** Prometheus text exposition of the node certificates' expiry (`osb metrics --textfile`). */
export function renderCertExpiryTextfile(certs: { component: ComponentName; node: string; notAfter: Date }[]): string {
  return [
    `# HELP ${CERT_EXPIRY_METRIC} Expiry (Unix time) of the TLS certificate of an osb node, from its certificate file.`,
    `# TYPE ${CERT_EXPIRY_METRIC} gauge`,
    ...certs.map((c) => `${CERT_EXPIRY_METRIC}{component="${c.component}",node="${c.node}"} ${Math.floor(c.notAfter.getTime() / 1000)}`),
    '',
  ].join('\n');
}
