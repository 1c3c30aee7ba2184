/**
 * Which Galera member is the single writer: the Kubernetes equivalent of the local target's
 * HAProxy with one active server and the others `backup` (src/components/mariadb/proxy.ts).
 * Pure and import-free: its compiled JavaScript is shipped in a ConfigMap and run by the
 * `mariadb-writer-controller` Deployment (see docs/kubernetes.md).
 */

/** The label the controller puts on the writer pod; the `mariadb-writer` Service selects it. */
export const WRITER_LABEL = 'osb.openstack.org/galera-writer';
export const WRITER_LABEL_VALUE = 'true';

/** One MariaDB pod as the controller sees it in the API. */
export interface WriterCandidate {
  name: string;
  /** StatefulSet ordinal (the `-N` suffix of the name). */
  ordinal: number;
  /** Pod condition Ready=True: the readiness probe found the node Synced in the Primary component. */
  ready: boolean;
  /** metadata.deletionTimestamp is set: the pod is going away (drain, rollout, delete). */
  deleting: boolean;
  labels: Record<string, string>;
}

export interface WriterDecision {
  /** The pod that should hold the writer label; undefined when no pod is healthy. */
  writer?: string;
  /** Pods whose writer label must be removed (done first: never two writers behind the Service). */
  unlabel: string[];
  /** The pod to label, when it does not hold the label yet. */
  label?: string;
  reason: string;
}

const holds = (p: WriterCandidate) => p.labels[WRITER_LABEL] === WRITER_LABEL_VALUE;
const healthy = (p: WriterCandidate) => p.ready && !p.deleting;

/**
 * Keep the current writer while it is healthy (stickiness: a returning node does not take the
 * writes back, so they do not flap); otherwise the lowest-ordinal healthy pod; none if no pod is
 * healthy. Healthy = Ready and not being deleted. Extra label holders are always unlabelled.
 */
export function chooseGaleraWriter(pods: readonly WriterCandidate[]): WriterDecision {
  const byOrdinal = [...pods].sort((a, b) => a.ordinal - b.ordinal || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const holders = byOrdinal.filter(holds);
  const current = holders.find(healthy);
  let writer: WriterCandidate | undefined;
  let reason: string;
  if (current) {
    writer = current;
    reason = `${current.name} stays the writer (Ready)`;
  } else {
    writer = byOrdinal.find(healthy);
    const was = holders.length ? `${holders.map((h) => `${h.name} is ${h.deleting ? 'being deleted' : 'not Ready'}`).join(', ')}; ` : '';
    reason = writer ? `${was}${writer.name} becomes the writer (lowest Ready ordinal)` : `${was}no pod is Ready: no writer`;
  }
  const unlabel = holders.filter((h) => h !== writer).map((h) => h.name);
  const label = writer && !holds(writer) ? writer.name : undefined;
  return { ...(writer ? { writer: writer.name } : {}), unlabel, ...(label ? { label } : {}), reason };
}
