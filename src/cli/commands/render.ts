import { OsbError } from '../../util/errors.js';
import { writeOut } from '../../util/output.js';
import { openKubernetes } from '../../targets/kubernetes/context.js';
import { renderObjects, toYamlStream } from '../../targets/kubernetes/render.js';
import { kubernetesTlsMaterial } from '../../targets/kubernetes/tls.js';
import { type GlobalOptions, parseComponents, sources } from '../options.js';

/** `osb render --target kubernetes`: the desired state as a YAML stream on stdout; contacts no cluster. */
export async function renderCommand(names: string[], o: GlobalOptions): Promise<number> {
  const components = parseComponents(names);
  if (o.target && o.target !== 'kubernetes')
    throw new OsbError(`osb render supports --target kubernetes only (got ${o.target})`, 'the local target runs daemons: use osb deploy', 2);
  const d = openKubernetes({ ...sources(o), namespace: o.namespace });
  const tls = await kubernetesTlsMaterial(d.config, d.stateDir, d.namespace, components);
  const objects = renderObjects(d.config, d.secrets, { namespace: d.namespace, components, tls });
  writeOut(toYamlStream(objects));
  return 0;
}
