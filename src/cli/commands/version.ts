import pkg from '../../../package.json' with { type: 'json' };
import { definitions } from '../../components/index.js';
import { COMPONENTS } from '../../config/schema.js';
import { resolveDeployConfig } from '../../targets/local/context.js';
import { installedVersions } from '../../targets/local/packages.js';
import { table } from '../../util/format.js';
import { type GlobalOptions, sources } from '../options.js';
import { emit } from './target.js';

/** `osb version`: osb's own version, the daemon packages found on this host and the images the Kubernetes target runs. */
export async function versionCommand(o: GlobalOptions): Promise<number> {
  const { config } = resolveDeployConfig(sources(o));
  const packages = [...new Set(definitions(config).flatMap((d) => d.packages(config).flatMap((p) => p.packages)))];
  const host = await installedVersions(packages);
  const images = Object.fromEntries(COMPONENTS.map((c) => [c, config[c].image]));
  const json = { osb: pkg.version, node: process.version, host: { packages: host }, kubernetes: { images } };
  const text = [
    `osb ${pkg.version} (node ${process.version})`,
    table([['PACKAGE (this host)', 'VERSION'], ...Object.entries(host).map(([p, v]) => [p, v ?? 'not installed'])]),
    table([['COMPONENT', 'IMAGE (kubernetes target)'], ...Object.entries(images)]),
  ].join('\n');
  return emit({ exitCode: 0, json, text }, o);
}
